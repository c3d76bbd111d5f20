"""In-memory OpenTelemetry SDK pieces handed to sessions explicitly (the global providers stay
untouched: they can be set only once per process)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentkit.session import SessionOptions

DataPoint = HistogramDataPoint | NumberDataPoint


class Telemetry:
    """A tracer provider and a meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def options(self, **changes: Any) -> SessionOptions:
        return SessionOptions(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **changes
        )

    def spans(self) -> Sequence[ReadableSpan]:
        return self.exporter.get_finished_spans()

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [span for span in self.spans() if (span.name or "").startswith(prefix)]

    def one(self, prefix: str) -> ReadableSpan:
        (span,) = self.named(prefix)
        return span

    def points(self, metric: str) -> list[DataPoint]:
        data = self.reader.get_metrics_data()
        found: list[DataPoint] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for entry in scope.metrics:
                    if entry.name == metric:
                        found.extend(entry.data.data_points)  # type: ignore[arg-type]
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    found: int = span.context.span_id
    return found


def histogram(points: list[DataPoint], where: dict[str, Any]) -> HistogramDataPoint:
    """The one histogram point whose attributes include ``where``."""
    (point,) = [p for p in points if _matches(p, where)]
    assert isinstance(point, HistogramDataPoint)
    return point


def total(points: list[DataPoint], where: dict[str, Any]) -> float:
    """The sum of the counter points whose attributes include ``where``."""
    return sum(p.value for p in points if isinstance(p, NumberDataPoint) and _matches(p, where))


def _matches(point: DataPoint, where: dict[str, Any]) -> bool:
    found = dict(point.attributes or {})
    return all(found.get(key) == value for key, value in where.items())
