"""A span handed to the SDK only when something needs it, so its cost lands after the replies."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.util import types

__all__ = ["DeferredSpan"]


class DeferredSpan(Span):
    """Stands for a span that the SDK starts, with the start time given here, the first time
    anything needs it: its context (a child span starts), an attribute, an event, its end.

    agentkit opens a response's span and a tool's span this way. Starting a span costs the
    Python SDK tens of microseconds, several times more when the process has just woken up;
    deferred, that work runs once the round's replies (the tool output, the follow-up
    ``response.create``) are written, instead of before them. A tool that starts spans of its
    own, or reads the current span's context, starts the real span then, so nothing is lost.
    """

    __slots__ = ("_begin", "_span")

    def __init__(self, begin: Callable[[], Span]) -> None:
        self._begin = begin
        self._span: Span | None = None

    @property
    def started(self) -> Span:
        """The SDK's span, started now if it was not yet."""
        span = self._span
        if span is None:
            span = self._span = self._begin()
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
        return f"DeferredSpan({self._span!r})"
