"""A span handed to the SDK only when something needs it, so its cost lands after the replies."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util import types

if TYPE_CHECKING:
    from agentkit.actions import Call
    from agentkit.events import ResponseFinished

__all__ = ["DeferredSpan", "ResponseSpan", "ToolSpan"]


class DeferredSpan(Span):
    """Stands for a span that the SDK starts, with the start time given here, the first time
    anything needs it: its context (a child span starts), an attribute, an event, its end.

    agentkit opens a response's span and a tool's span this way. Starting a span costs the
    Python SDK tens of microseconds, several times more when the process has just woken up;
    deferred, that work runs once the round's replies (the tool output, the follow-up
    ``response.create``) are written, instead of before them. A tool that starts spans of its
    own, or reads the current span's context, starts the real span then, so nothing is lost.
    """

    __slots__ = ("_attributes", "_context", "_kind", "_name", "_span", "_start_time", "_tracer")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, types.AttributeValue],
        start_time: int,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._context = context
        self._kind = kind
        self._attributes = attributes
        self._start_time = start_time
        self._span: Span | None = None

    @property
    def started(self) -> Span:
        """The SDK's span, started now if it was not yet."""
        span = self._span
        if span is None:
            span = self._span = self._tracer.start_span(
                self._name, self._context, self._kind, self._attributes, None, self._start_time
            )
        return span

    def get_span_context(self) -> SpanContext:
        return self.started.get_span_context()

    def is_recording(self) -> bool:
        return self.started.is_recording()

    def set_attributes(self, attributes: types.Attributes) -> None:
        self.started.set_attributes(attributes or {})

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self.started.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        self.started.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        self.started.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self.started.update_name(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self.started.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self.started.record_exception(exception, attributes, timestamp, escaped)

    def end(self, end_time: int | None = None) -> None:
        self.started.end(end_time)

    def __repr__(self) -> str:
        return f"DeferredSpan({self._name!r}, started={self._span is not None})"


class ResponseSpan(DeferredSpan):
    """A response's span, with what its end and its metrics need."""

    __slots__ = (
        "closed",
        "finish",
        "first_audio",
        "first_text",
        "interrupted",
        "requested",
        "running",
        "tools",
    )

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        context: Context | None,
        attributes: dict[str, types.AttributeValue],
        start_time: int,
        requested: float,
    ) -> None:
        super().__init__(tracer, name, context, SpanKind.CLIENT, attributes, start_time)
        self.requested = requested  # perf_counter() at its request, or at response.created
        self.first_audio: float | None = None
        self.first_text: float | None = None
        self.interrupted = False
        self.tools: list[ToolSpan] | None = None  # its tools whose tasks ended before it did
        self.running = 0  # its tools whose tasks have not ended
        self.finish: tuple[ResponseFinished, tuple[int, float]] | None = None  # its end, waiting
        self.closed = False  # ended: a tool that ends later ends on its own


class ToolSpan(DeferredSpan):
    """A tool's span, with the times of its task."""

    __slots__ = ("began", "call", "ended", "response")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        context: Context | None,
        attributes: dict[str, types.AttributeValue],
        call: Call,
        response: ResponseSpan | None,
    ) -> None:
        super().__init__(tracer, name, context, SpanKind.INTERNAL, attributes, time.time_ns())
        self.call = call
        self.response = response
        self.began = time.perf_counter()
        self.ended: tuple[int, float] = (0, 0.0)  # time_ns() and perf_counter() at its end
