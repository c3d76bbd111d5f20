"""Spans and metrics of a session, through the OpenTelemetry API only.

The application brings the SDK and the exporter; agentkit calls ``opentelemetry-api`` and nothing
else. When no tracer provider and no meter provider is configured (none in
:class:`~agentkit.session.SessionOptions`, none set globally) a session gets :data:`NO_TRACING`:
its hooks do nothing and it registers no event handler, so the audio stream pays nothing.

Otherwise a :class:`SessionTracer` follows the session through its application events (it
registers ordinary handlers) and four hooks the session calls: :meth:`~NoTracing.starting`
around the first connect, :meth:`~NoTracing.sending` for each event the state decides to send,
:meth:`~NoTracing.traced_call` around each tool task and :meth:`~NoTracing.closed`. The spans::

    invoke_agent {agent}     the session, connect to close; child of the context current at start()
      connect                the first connection, retries included
      chat {model}           a response: its response.create (or response.created) to response.done
        execute_tool {tool}  a tool execution, current in the tool's task (the tool's spans nest)
      agentkit.reconnect     a reconnection, with an event per attempt

A tool round's SDK work waits for the round's replies: the response's and the tool's spans are
:class:`~agentkit._tracing_spans.DeferredSpan` objects the SDK starts (with their true start times)
only when a child span, an attribute or their end needs them, and a quick tool's span ends with its
response, which the session tells once the tool output and the follow-up are written.

Attribute and metric names follow the OpenTelemetry GenAI semantic conventions where they exist;
realtime specifics carry an ``agentkit.`` prefix. Tool arguments, tool results and transcripts are
recorded only with ``SessionOptions(trace_content=True)``. No attribute holds a credential: the
endpoint appears as its redacted URL, host and port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import (
    MeterProvider,
    NoOpMeterProvider,
)
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
)
from opentelemetry.util.types import AttributeValue

from agentkit._tracing_metrics import (
    SCOPE,
    VERSION,
    ChatMeasured,
    Instruments,
    instruments,
)
from agentkit._tracing_spans import ResponseSpan, ToolSpan
from agentkit.errors import ServerError
from agentkit.events import (
    AudioDelta,
    ErrorOccurred,
    Event,
    GuardrailTripped,
    HandoffOccurred,
    HostedToolCall,
    HostedToolCallFinished,
    Interrupted,
    Reconnected,
    ReconnectGaveUp,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    SessionClosed,
    SessionReady,
    TranscriptDelta,
    UsageUpdated,
    UserTranscript,
)
from agentkit.protocol.client_events import ClientEvent, ResponseCreate
from agentkit.protocol.events import Usage

if TYPE_CHECKING:
    from agentkit.actions import Call
    from agentkit.endpoints import Endpoint
    from agentkit.protocol.dialects import Dialect

__all__ = ["NO_TRACING", "NoTracing", "SessionTracer", "TracedSession", "session_tracer"]

logger = logging.getLogger("agentkit.tracing")


# GenAI semantic conventions (development status; plain strings, no semconv package needed).
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHED_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

# Realtime specifics.
SESSION_ID = "agentkit.session.id"
ENDPOINT_URL = "agentkit.endpoint.url"
DIALECT = "agentkit.dialect"
ROUND = "agentkit.response.round"
TRIGGER = "agentkit.response.trigger"
INTERRUPTED = "agentkit.response.interrupted"
RESPONSE_COST = "agentkit.response.cost"
STATUS_REASON = "agentkit.response.status_reason"
TIME_TO_FIRST_AUDIO = "agentkit.response.time_to_first_audio"
TIME_TO_FIRST_TEXT = "agentkit.response.time_to_first_text"
CLOSE_CODE = "agentkit.close.code"
CLOSE_REASON = "agentkit.close.reason"
RECONNECT_REASON = "agentkit.reconnect.reason"
RECONNECT_ATTEMPTS = "agentkit.reconnect.attempts"
RECONNECT_OUTCOME = "agentkit.reconnect.outcome"

# (usage detail key, span attribute, token total key) for input and output token details
_INPUT_DETAILS = (
    ("cached_tokens", CACHED_INPUT_TOKENS, "input.cached"),
    ("text_tokens", "agentkit.usage.input_text_tokens", "input.text"),
    ("audio_tokens", "agentkit.usage.input_audio_tokens", "input.audio"),
)
_OUTPUT_DETAILS = (
    ("text_tokens", "agentkit.usage.output_text_tokens", "output.text"),
    ("audio_tokens", "agentkit.usage.output_audio_tokens", "output.audio"),
)
_KEPT_RESPONSE_CONTEXTS = 16
_KEPT_REQUESTS = 16

E = TypeVar("E", bound=Event)


# -- what tracing reads from a session -------------------------------------------------------------


class TracingOptions(Protocol):
    """The options tracing reads (:class:`~agentkit.session.SessionOptions` has them)."""

    @property
    def tracer_provider(self) -> TracerProvider | None: ...
    @property
    def meter_provider(self) -> MeterProvider | None: ...
    @property
    def trace_content(self) -> bool: ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Rounds(Protocol):
    @property
    def rounds_this_turn(self) -> int: ...


class TracedSession(Protocol):
    """What a tracer reads from its session; :class:`~agentkit.session.Session` is one.

    A protocol rather than the class, so that this module does not import the session module
    that imports it.
    """

    @property
    def options(self) -> TracingOptions: ...
    @property
    def agent(self) -> _Named: ...
    @property
    def dialect(self) -> Dialect: ...
    @property
    def state(self) -> _Rounds: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def server_session(self) -> Mapping[str, Any]: ...

    def on(self, event_type: type[E], handler: Callable[[E], Awaitable[None] | None]) -> None:
        """Call ``handler`` for every event of ``event_type``."""

    def _event_time(self) -> tuple[int, float]:
        """When the event being told happened: ``time.time_ns()`` and ``perf_counter()``."""


# -- is anything configured? -----------------------------------------------------------------------

_API_MODULES = ("opentelemetry.trace", "opentelemetry.metrics")


def _records_nothing(provider: TracerProvider | MeterProvider) -> bool:
    """Whether ``provider`` is one the OpenTelemetry API hands out by itself: a no-op provider,
    or the global proxy that stands in until an SDK's provider is set.

    The API has no public question for this and its metrics proxy class is not public. What is
    public and stable is where classes live: the API's own providers are defined in its own
    modules, an SDK's never are. Should the API ever move its proxy, the answer turns to False:
    agentkit then traces through the proxy, which stays correct and only stops being free.
    """
    if isinstance(provider, (NoOpTracerProvider, ProxyTracerProvider, NoOpMeterProvider)):
        return True
    module = type(provider).__module__
    return any(module == name or module.startswith(name + ".") for name in _API_MODULES)


class NoTracing:
    """The hooks a session calls; all do nothing. :class:`SessionTracer` overrides them."""

    def starting(self) -> contextlib.AbstractContextManager[None]:
        """Around the first connect: the session span opens; a failed connect ends it."""
        return contextlib.nullcontext()

    def sending(self, event: ClientEvent) -> None:
        """The state decided to send ``event`` (a ``response.create`` starts a response)."""

    def traced_call(self, call: Call, run: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None]:
        """Wrap the coroutine that runs ``call`` (its task gets the tool span as current)."""
        return run

    def closed(self, event: SessionClosed) -> None:
        """The session ended; open spans end with it."""


NO_TRACING = NoTracing()
"""What a session holds when nothing would record its spans or metrics."""


def session_tracer(session: TracedSession, endpoint: Endpoint | None) -> NoTracing:
    """The tracer for ``session``: :data:`NO_TRACING` unless an SDK would record something.

    Providers given in ``session.options`` win; otherwise the global ones, as they are when the
    session is created. A no-op provider (``NoOpTracerProvider()``) turns agentkit's part off.
    """
    options = session.options
    tracer_provider = options.tracer_provider or trace.get_tracer_provider()
    meter_provider = options.meter_provider or metrics.get_meter_provider()
    if _records_nothing(tracer_provider) and _records_nothing(meter_provider):
        return NO_TRACING
    tracer = tracer_provider.get_tracer(SCOPE, VERSION)
    return SessionTracer(session, endpoint, tracer, instruments(meter_provider))


# -- the tracer ------------------------------------------------------------------------------------


class SessionTracer(NoTracing):
    """Spans and metrics of one session; see the module docstring for the span tree."""

    def __init__(
        self,
        session: TracedSession,
        endpoint: Endpoint | None,
        tracer: Tracer,
        instruments: Instruments,
    ) -> None:
        self._session = session
        self._tracer = tracer
        self._metrics = instruments
        self._content = session.options.trace_content
        self._endpoint = _endpoint_attributes(endpoint)
        self._server = {k: v for k, v in self._endpoint.items() if k.startswith("server.")}
        self._model = _requested_model(endpoint)
        self._measured: ChatMeasured | None = None
        self._chat_key: tuple[str | None, str | None] | None = None
        self._chat_start: tuple[str, dict[str, AttributeValue]] = ("chat", {})
        self._span: Span | None = None
        self._context: Context | None = None
        # response.create times not yet answered by a response.created, oldest first
        self._requests: deque[tuple[int, float]] = deque(maxlen=_KEPT_REQUESTS)
        self._responses: dict[str, ResponseSpan] = {}
        self._waiting: dict[str, ResponseSpan] = {}  # done, but a tool of theirs still runs
        self._response_contexts: dict[str, Context] = {}
        self._reconnect: Span | None = None
        self._failure: str | None = None
        self._hosted_started: dict[str, tuple[int, float]] = {}  # item id -> in_progress time
        session.on(ResponseStarted, self._response_started)
        session.on(ResponseFinished, self._response_finished)
        session.on(UsageUpdated, self._usage_updated)
        session.on(AudioDelta, self._audio_delta)
        session.on(TranscriptDelta, self._text_delta)
        session.on(Interrupted, self._interrupted)
        session.on(SessionReady, self._ready)
        session.on(ErrorOccurred, self._error)
        session.on(Reconnecting, self._reconnecting)
        session.on(Reconnected, self._reconnected)
        session.on(ReconnectGaveUp, self._gave_up)
        session.on(GuardrailTripped, self._guardrail_tripped)
        session.on(HandoffOccurred, self._handoff)
        session.on(HostedToolCall, self._hosted_call)
        session.on(HostedToolCallFinished, self._hosted_call_finished)
        if self._content:
            session.on(UserTranscript, self._user_transcript)

    # -- attributes shared by spans and metrics -----------------------------------------------

    def _common(self, operation: str) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {OPERATION: operation}
        attributes[PROVIDER] = self._endpoint.get(PROVIDER, "openai")
        model = self._model or self._response_model()
        if model:
            attributes[REQUEST_MODEL] = model
        return attributes

    def _chat_measured(self) -> ChatMeasured:
        """Metric attributes of responses, built once (the model is known by the first one)."""
        if self._measured is None:
            metrics = self._metrics
            self._measured = ChatMeasured.of(self._common("chat"), metrics.tokens, metrics.cost)
        return self._measured

    def _chat_started(self) -> tuple[str, dict[str, AttributeValue]]:
        """The name and first attributes of a response's span, built again only when the
        session's id or model changed."""
        session_id, model = self._session.session_id, self._response_model()
        if self._chat_key != (session_id, model):
            attributes = self._common("chat")
            attributes.update(self._server)
            if session_id:
                attributes[SESSION_ID] = session_id
            if model:
                attributes[RESPONSE_MODEL] = model
            requested_model = self._model or model
            name = f"chat {requested_model}" if requested_model else "chat"
            self._chat_key, self._chat_start = (session_id, model), (name, attributes)
        return self._chat_start

    def _response_model(self) -> str | None:
        model = self._session.server_session.get("model")
        return model if isinstance(model, str) and model else None

    def _session_ids(self) -> dict[str, AttributeValue]:
        session_id = self._session.session_id
        return {SESSION_ID: session_id} if session_id else {}

    # -- session ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        attributes = self._common("invoke_agent")
        attributes[AGENT_NAME] = self._session.agent.name
        attributes[DIALECT] = self._session.dialect.value
        attributes.update(self._endpoint)
        self._span = self._tracer.start_span(
            f"invoke_agent {self._session.agent.name}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        self._context = trace.set_span_in_context(self._span)
        connect = self._tracer.start_span("connect", context=self._context, kind=SpanKind.CLIENT)
        try:
            yield
        except BaseException as exc:
            for span in (connect, self._span):
                _fail(span, type(exc).__qualname__, exc)
                span.end()
            self._span = None
            raise
        connect.end()

    def _ready(self, event: SessionReady) -> None:
        if self._span is None:
            return
        attributes = self._session_ids()
        if event.session_id:
            attributes[CONVERSATION_ID] = event.session_id
        model = self._response_model()
        if model:
            attributes[RESPONSE_MODEL] = model
        self._span.set_attributes(attributes)

    def closed(self, event: SessionClosed) -> None:
        self._end_open_responses("session_closed")
        if self._reconnect is not None:
            self._end_reconnect("gave_up", error="session_closed")
        span, self._span = self._span, None
        if span is None:
            return
        span.set_attributes({CLOSE_CODE: event.code or 0, CLOSE_REASON: event.reason})
        failure = self._failure or (None if event.code in (None, 1000) else "connection_closed")
        if failure is not None:
            _fail(span, failure)
        span.end()

    def _error(self, event: ErrorOccurred) -> None:
        if event.caused_by == "response.create":
            if self._requests:  # rejected: no response.created will come for it
                self._requests.popleft()
        if self._span is None:
            return
        attributes: dict[str, AttributeValue] = {
            ERROR_TYPE: event.code or event.error_type or "error",
            "exception.message": event.message,
        }
        if event.caused_by:
            attributes["agentkit.error.caused_by"] = event.caused_by
        self._span.add_event("agentkit.error", attributes)

    def _user_transcript(self, event: UserTranscript) -> None:
        if self._span is not None:
            self._span.add_event(
                "agentkit.user_transcript",
                {"agentkit.item.id": event.item_id, "agentkit.transcript": event.text},
            )

    # -- responses ----------------------------------------------------------------------------

    def sending(self, event: ClientEvent) -> None:
        if type(event) is ResponseCreate:
            self._requests.append((time.time_ns(), time.perf_counter()))

    def _response_started(self, event: ResponseStarted) -> None:
        self._open_response(event.response_id or "")

    def _open_response(self, response_id: str) -> Context:
        """The context of the response's span, opened now if it is not open yet.

        A chunk's events are told after the replies decided with it are written, so when
        ``response.created`` and ``response.done`` arrive in one chunk, the tool of that response
        starts, and the follow-up ``response.create`` is sent, before :class:`ResponseStarted`
        is told. The tool's span opens the response's then, and a request counts for the
        response only if it was sent before the response's event arrived.
        """
        contexts = self._response_contexts
        known = contexts.get(response_id)
        if known is not None:
            return known
        happened = self._session._event_time()
        requests = self._requests
        requested = requests.popleft() if requests and requests[0][1] <= happened[1] else None
        start_ns, began = requested or happened
        name, first = self._chat_started()
        attributes = {
            **first,
            RESPONSE_ID: response_id,
            ROUND: self._session.state.rounds_this_turn,
            TRIGGER: "client" if requested else "server",
        }
        # started by its tool's span or by its end, after the round's replies are written
        span = ResponseSpan(self._tracer, name, self._context, attributes, start_ns, began)
        self._responses[response_id] = span
        context = contexts[response_id] = trace.set_span_in_context(span, self._context)
        if len(contexts) > 2 * _KEPT_RESPONSE_CONTEXTS:  # forget the oldest, a few at a time
            for old in list(contexts)[:_KEPT_RESPONSE_CONTEXTS]:
                del contexts[old]
        return context

    def _audio_delta(self, event: AudioDelta) -> None:
        response = self._responses.get(event.response_id or "")
        if response is not None and response.first_audio is None:
            response.first_audio = self._session._event_time()[1]

    def _text_delta(self, event: TranscriptDelta) -> None:
        response = self._responses.get(event.response_id or "")
        if response is not None and response.first_text is None:
            response.first_text = self._session._event_time()[1]

    def _interrupted(self, event: Interrupted) -> None:
        attributes: dict[str, AttributeValue] = {}
        if event.audio_end_ms is not None:
            attributes["agentkit.audio_end_ms"] = event.audio_end_ms
        response = self._responses.get(event.response_id or "")
        if response is not None:
            response.interrupted = True
            response.add_event("agentkit.interrupted", attributes)
        elif self._span is not None:  # playback of a finished response was cut off
            if event.response_id:
                attributes[RESPONSE_ID] = event.response_id
            self._span.add_event("agentkit.interrupted", attributes)

    def _guardrail_tripped(self, event: GuardrailTripped) -> None:
        """An output guardrail's trip, on the response it cut (an input guardrail's marks the
        refused call's tool span where it runs)."""
        if event.kind != "output":
            return
        attributes: dict[str, AttributeValue] = {
            "agentkit.guardrail.name": event.guardrail,
            "agentkit.guardrail.message": event.verdict.message,
        }
        response = self._responses.get(event.response_id or "")
        if response is not None:
            response.set_attribute("agentkit.guardrail.tripped", event.guardrail)
            response.add_event("agentkit.guardrail_tripped", attributes)
        elif self._span is not None:
            if event.response_id:
                attributes[RESPONSE_ID] = event.response_id
            self._span.add_event("agentkit.guardrail_tripped", attributes)

    def _handoff(self, event: HandoffOccurred) -> None:
        """A transfer, on the session's span: which agent holds the conversation from here."""
        if self._span is not None:
            self._span.add_event(
                "agentkit.handoff",
                {
                    "agentkit.handoff.source": event.source,
                    "agentkit.handoff.target": event.target,
                    "agentkit.handoff.back": event.back,
                    "agentkit.tool.call_id": event.call_id,
                },
            )

    def _response_finished(self, event: ResponseFinished) -> None:
        """End the span and record the metrics, timed at the ``response.done``. The session
        tells this once the replies it decided with the ``response.done`` are written; a tool
        of the response still running has its output to write yet, so the response ends after
        its last tool instead: the SDK's work never delays a reply."""
        response = self._responses.pop(event.response_id or "", None)
        if response is None:
            return
        ended = self._session._event_time()
        if response.running:
            response.finish = (event, ended)
            self._waiting[event.response_id or ""] = response
            return
        self._complete_response(event, response, ended)

    def _complete_response(
        self, event: ResponseFinished, response: ResponseSpan, ended: tuple[int, float]
    ) -> None:
        status = event.status or "completed"
        attributes: dict[str, AttributeValue] = {}
        if event.reason:
            attributes[STATUS_REASON] = event.reason
        if event.usage is not None:
            self._record_usage(event.usage, attributes)
        if self._content and event.text:
            attributes[OUTPUT_MESSAGES] = _output_messages(event.text, status)
        error = (event.reason or "failed") if status == "failed" else None
        self._end_response(event.response_id or "", response, status, error, attributes, ended)

    def _end_open_responses(self, status: str, *, error: str | None = None) -> None:
        """End every response still open (the session or its socket is gone), and those
        whose end waited for a tool (a task cancelled before it ran never says it ended)."""
        for waiting in list(self._waiting.values()):
            self._complete_waiting(waiting)
        now = (time.time_ns(), time.perf_counter())
        for response_id, response in list(self._responses.items()):
            self._end_response(response_id, response, status, error, {}, now)
        self._responses.clear()

    def _end_response(
        self,
        response_id: str,
        response: ResponseSpan,
        status: str,
        error: str | None,
        attributes: dict[str, AttributeValue],
        ended: tuple[int, float],
    ) -> None:
        """Set ``attributes`` and the outcome on the response's span (in one call: each one
        costs the SDK a lock and a check of every value), end it and record its metrics."""
        span = response
        end_ns, now = ended
        response.closed = True
        for tool in response.tools or ():
            self._end_tool(tool)
        attributes[FINISH_REASONS] = (status,)
        attributes[INTERRUPTED] = response.interrupted
        started, first_audio, first_text = response.requested, response.first_audio, None
        if first_audio is not None:
            first_audio -= started
            attributes[TIME_TO_FIRST_AUDIO] = first_audio
        if response.first_text is not None:
            first_text = response.first_text - started
            attributes[TIME_TO_FIRST_TEXT] = first_text
        span.set_attributes(attributes)
        measured = self._chat_measured().chat
        if error is not None:
            measured = {**measured, ERROR_TYPE: error}
            exception = ServerError(f"response {response_id} ended: {status}", code=error)
            _fail(span, error, exception)
        span.end(end_time=end_ns)
        metrics = self._metrics
        metrics.operation_duration.record(now - started, measured)
        if first_audio is not None:
            first = first_audio if first_text is None else min(first_audio, first_text)
            metrics.time_to_first_chunk.record(first, measured)
            metrics.time_to_first_audio.record(first_audio, measured)
        elif first_text is not None:
            metrics.time_to_first_chunk.record(first_text, measured)

    def _usage_updated(self, event: UsageUpdated) -> None:
        """A response's estimated cost: the ``agentkit.cost`` total, and its span's attribute
        (the span ends with the ``ResponseFinished`` told right after)."""
        if event.cost is None:
            return
        self._chat_measured().cost.count += event.cost
        response = self._responses.get(event.response_id or "")
        if response is not None:
            response.set_attribute(RESPONSE_COST, event.cost)

    def _record_usage(self, usage: Usage, attributes: dict[str, AttributeValue]) -> None:
        """The usage's span attributes into ``attributes``, and its token metrics."""
        measured, metrics = self._chat_measured(), self._metrics
        if usage.input_tokens is not None:
            attributes[INPUT_TOKENS] = usage.input_tokens
            metrics.token_usage.record(usage.input_tokens, measured.input)
        if usage.output_tokens is not None:
            attributes[OUTPUT_TOKENS] = usage.output_tokens
            metrics.token_usage.record(usage.output_tokens, measured.output)
        for details, fields in (
            (usage.input_token_details, _INPUT_DETAILS),
            (usage.output_token_details, _OUTPUT_DETAILS),
        ):
            if not details:
                continue
            for key, name, detail in fields:
                count = details.get(key)
                if isinstance(count, int):
                    attributes[name] = count
                    if count:
                        measured.details[detail].count += count

    # -- tools --------------------------------------------------------------------------------

    def traced_call(self, call: Call, run: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None]:
        """Counted as running for its response now, when the session starts the call, since
        its task may run only after the response's end is told."""
        response: ResponseSpan | None = None
        parent = self._context
        if call.response_id:
            parent = self._open_response(call.response_id)
            response = self._responses.get(call.response_id)
            if response is not None:
                response.running += 1
        return self._traced_call(call, run, parent, response)

    async def _traced_call(
        self,
        call: Call,
        run: Coroutine[Any, Any, None],
        parent: Context | None,
        response: ResponseSpan | None,
    ) -> None:
        attributes: dict[str, AttributeValue] = {
            OPERATION: "execute_tool",
            TOOL_NAME: call.name,
            TOOL_CALL_ID: call.call_id,
            TOOL_TYPE: "function",
        }
        if call.response_id:
            attributes[RESPONSE_ID] = call.response_id
        if self._content:
            attributes[TOOL_ARGUMENTS] = call.arguments
        name = f"execute_tool {call.name}"
        # started when the tool needs it (a span of its own), or when it ends
        span = ToolSpan(self._tracer, name, parent, attributes, call, response)
        attached = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await run
        finally:
            otel_context.detach(attached)
            span.ended = (time.time_ns(), time.perf_counter())
            self._tool_done(span)

    def _hosted_call(self, event: HostedToolCall) -> None:
        if event.status == "in_progress":
            started = self._hosted_started
            started[event.item_id] = self._session._event_time()
            if len(started) > _KEPT_REQUESTS:
                del started[next(iter(started))]

    def _hosted_call_finished(self, event: HostedToolCallFinished) -> None:
        """A call the service made to a hosted MCP server: a span under its response, from
        ``response.mcp_call.in_progress`` to the item's end (the service's own timing is not
        told). ``gen_ai.tool.type`` is ``extension``: the tool runs on the service's side."""
        ended = self._session._event_time()
        start_ns = self._hosted_started.pop(event.item_id, ended)[0]
        parent = self._open_response(event.response_id) if event.response_id else self._context
        name = event.name or "mcp"
        attributes: dict[str, AttributeValue] = {
            OPERATION: "execute_tool",
            TOOL_NAME: name,
            TOOL_CALL_ID: event.item_id,
            TOOL_TYPE: "extension",
            "agentkit.mcp.server_label": event.server_label or "",
        }
        if event.response_id:
            attributes[RESPONSE_ID] = event.response_id
        if self._content:
            attributes[TOOL_ARGUMENTS] = event.arguments
            if event.output is not None:
                attributes[TOOL_RESULT] = event.output
        span = self._tracer.start_span(
            f"execute_tool {name}", context=parent, attributes=attributes, start_time=start_ns
        )
        if event.error is not None:
            _fail(span, str(event.error.get("type") or "hosted_tool_error"))
        span.end(end_time=ended[0])

    def _tool_done(self, span: ToolSpan) -> None:
        """The tool's task ended, its output written (or queued behind its response's end).
        Its span ends with its response, if that has not ended; a response whose end waited
        for its last tool ends now."""
        response = span.response
        if response is None or response.closed:
            self._end_tool(span)
            return
        response.running -= 1
        if response.tools is None:
            response.tools = [span]
        else:
            response.tools.append(span)
        if not response.running and response.finish is not None:
            self._complete_waiting(response)

    def _complete_waiting(self, response: ResponseSpan) -> None:
        assert response.finish is not None
        event, ended = response.finish
        response.finish = None
        self._waiting.pop(event.response_id or "", None)
        self._complete_response(event, response, ended)

    def _end_tool(self, span: ToolSpan) -> None:
        """End a tool's span and record its duration. A tool whose response is still open (a
        quick one: it answered before its response.done was handled) waits for the response's
        end, which comes once the replies of the round are written. The outcome is the call's
        own result (its ``ToolCallFinished`` may be told later than this)."""
        call = span.call
        measured: dict[str, AttributeValue] = {OPERATION: "execute_tool", TOOL_NAME: call.name}
        result = call.result
        if result is not None and result.is_error:
            error = result.error_type or "tool_error"
            _fail(span, error)
            measured[ERROR_TYPE] = error
        if result is not None and self._content:
            span.set_attribute(TOOL_RESULT, result.output)
        end_ns, now = span.ended
        span.end(end_time=end_ns)
        self._metrics.tool_duration.record(now - span.began, measured)

    # -- reconnection -------------------------------------------------------------------------

    def _reconnecting(self, event: Reconnecting) -> None:
        if self._reconnect is None:
            self._end_open_responses("connection_lost", error="connection_lost")  # with the socket
            self._reconnect = self._tracer.start_span(
                "agentkit.reconnect",
                context=self._context,
                kind=SpanKind.INTERNAL,
                attributes={RECONNECT_REASON: event.reason, **self._endpoint},
            )
        self._reconnect.add_event(
            "agentkit.reconnect.attempt",
            {
                RECONNECT_ATTEMPTS: event.attempt,
                "agentkit.reconnect.delay_s": event.delay_s,
                RECONNECT_REASON: event.reason,
            },
        )

    def _reconnected(self, event: Reconnected) -> None:
        if self._reconnect is not None:
            self._reconnect.set_attributes(
                {
                    RECONNECT_ATTEMPTS: event.attempt,
                    "agentkit.reconnect.restored_items": event.restored_items,
                    "agentkit.reconnect.not_restored": list(event.not_restored),
                    "agentkit.reconnect.dropped_audio_chunks": event.dropped_audio_chunks,
                }
            )
        self._end_reconnect("reconnected")

    def _gave_up(self, event: ReconnectGaveUp) -> None:
        self._failure = "reconnect_gave_up"
        if self._reconnect is not None:
            self._reconnect.set_attribute(RECONNECT_ATTEMPTS, event.attempts)
        self._end_reconnect("gave_up", error="reconnect_gave_up")

    def _end_reconnect(self, outcome: str, *, error: str | None = None) -> None:
        span, self._reconnect = self._reconnect, None
        if span is not None:
            span.set_attribute(RECONNECT_OUTCOME, outcome)
            if error is not None:
                _fail(span, error)
            span.end()
        provider = self._endpoint.get(PROVIDER, "openai")
        self._metrics.reconnects.add(1, {RECONNECT_OUTCOME: outcome, PROVIDER: provider})


# -- helpers ---------------------------------------------------------------------------------------


def _fail(span: Span, error_type: str, exception: BaseException | None = None) -> None:
    span.set_attribute(ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))
    if exception is not None:
        span.record_exception(exception)


def _endpoint_attributes(endpoint: Endpoint | None) -> dict[str, AttributeValue]:
    """Provider, host, port and the redacted URL: never a credential."""
    if endpoint is None:
        return {}
    parts = urlsplit(endpoint.url)
    attributes: dict[str, AttributeValue] = {
        PROVIDER: "azure.ai.openai" if endpoint.kind == "azure" else "openai",
        ENDPOINT_URL: endpoint.redacted_url,
    }
    if parts.hostname:
        attributes[SERVER_ADDRESS] = parts.hostname
        attributes[SERVER_PORT] = parts.port or (443 if parts.scheme == "wss" else 80)
    return attributes


def _requested_model(endpoint: Endpoint | None) -> str | None:
    """The model (OpenAI) or deployment (Azure) named in the endpoint's URL."""
    if endpoint is None:
        return None
    query = dict(parse_qsl(urlsplit(endpoint.url).query))
    return query.get("model") or query.get("deployment") or None


def _output_messages(text: str, status: str) -> str:
    message = {
        "role": "assistant",
        "parts": [{"type": "text", "content": text}],
        "finish_reason": status,
    }
    return json.dumps([message], ensure_ascii=False)
