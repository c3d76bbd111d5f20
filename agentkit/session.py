"""The session an application holds: one realtime conversation over one endpoint.

The session moves data and runs tools; every decision is :class:`ConversationState`'s. One reader
task pulls frames from the transport, decodes them, asks the state what they mean and performs the
answer; tools run in their own tasks, so a slow tool never stalls audio.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from agentkit._delivery import APP_EVENTS, BufferPolicy, EventChannel
from agentkit._tasks import TaskOwner
from agentkit.agent import Agent
from agentkit.answer import Answer, ask
from agentkit.approval import ApprovalHook
from agentkit.aside import AsideResult, aside
from agentkit.dispatch import ToolRunner
from agentkit.endpoints import Endpoint
from agentkit.errors import (
    ConfigurationError,
    ConnectionClosedError,
    ConnectionFailedError,
    ProtocolError,
    ServerError,
    SessionClosedError,
)
from agentkit.events import (
    ErrorOccurred,
    Event,
    Reconnected,
    ReconnectGaveUp,
    Reconnecting,
    ResponseFinished,
    SessionClosed,
    SessionReady,
    ToolProgress,
    UsageUpdated,
)
from agentkit.guardrails import OutputWatch
from agentkit.history import Replay
from agentkit.hosted_mcp import StartApproval
from agentkit.images import ImageDetail, ImageLike, load_image
from agentkit.models import ModelProfile, check_images, check_session_config
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import (
    ClientEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    SessionUpdate,
    audio_append,
    new_item_id,
    user_image,
    user_message,
)
from agentkit.protocol.codec import decode, encode
from agentkit.protocol.config import ResponseOptions, SessionConfig
from agentkit.protocol.dialects import Dialect, ga_only_settings, session_from_wire
from agentkit.reconnect import ReconnectPolicy, connect_with_retry, is_expiry, is_retryable
from agentkit.state import (
    Action,
    Call,
    CancelCalls,
    ConversationState,
    Emit,
    HistoryItem,
    InterruptPolicy,
    Send,
    StartCall,
)
from agentkit.tracing import NoTracing, session_tracer
from agentkit.transport import Transport, connect
from agentkit.usage import PriceTable, TokenPrices, TokenUsage, UsageMeter, session_prices

if TYPE_CHECKING:
    from agentkit.calls.sideband import Keypad, SidebandSession

__all__ = ["Connector", "Session", "SessionOptions"]

logger = logging.getLogger("agentkit.session")


Connector = Callable[[], Awaitable[Transport]]
"""Opens a fresh transport; called at every (re)connect."""

E = TypeVar("E", bound=Event)
_T = TypeVar("_T")
Handler = Callable[[Any], Awaitable[None] | None]


@dataclass(frozen=True)
class SessionOptions:
    """Limits and policies of a session; the defaults suit a voice agent.

    Attributes:
        tool_timeout: seconds a tool may run when the tool sets no timeout of its own.
        max_concurrent_tools: calls running at once; more wait for a slot.
        max_tool_rounds: follow-up responses caused by tool calls per user turn.
        interrupt_policy: on barge-in, ``"finish"`` lets running tools finish and post their
            output; ``"cancel"`` cancels them (each still gets a ``cancelled`` output).
        max_tool_output_chars: longer outputs are cut, with a marker saying so.
        speak_progress: let the model tell the user what a long tool reports through
            ``ToolContext.report_progress`` (when no response is active).
        ready_timeout: seconds to wait for the service to accept the configuration.
        reconnect: how a dropped or expiring connection is replaced (see ``docs/sessions.md``).
        max_argument_chars: larger tool arguments are refused without running the tool.
        max_calls_per_minute: tool calls beyond this rate are refused (``None``: no budget).
        approve: decides, before each call runs, whether it may (see :mod:`agentkit.approval`).
        approval_timeout: seconds the approval hook may take; no answer counts as a denial.
        max_queued_events: client events kept while disconnected; the oldest audio goes first.
        trace_content: record tool arguments, tool results and transcripts in spans (see
            ``docs/tracing.md``); off by default, since they may hold personal data.
        tracer_provider: the OpenTelemetry tracer provider; defaults to the global one.
        meter_provider: the OpenTelemetry meter provider; defaults to the global one.
        stale_response_after: seconds a wait on the service may last without a word from it
            (an active response, an unanswered ``response.create``, speech that never ends)
            before agentkit stops waiting and tells ``ErrorOccurred(code="stale_response")``:
            a lost ``response.done`` must not block the session.
        max_buffered_events: unread events the session's iterator may fall behind by
            (``None``: no limit). Handlers see every event regardless.
        buffer_policy: what happens at ``max_buffered_events``. ``"backpressure"`` loses
            nothing: the session stops reading the socket until the iterator reads again
            (the service and TCP hold the rest; replies to tool calls still go out). While no
            iterator runs (handlers only), nobody could catch up, so the oldest go.
            ``"drop_oldest"`` keeps reading and drops the oldest unread events. Either way
            the iterator gets an :class:`~agentkit.events.EventsDropped` where events went.
        max_history_items: conversation items the session remembers (the oldest go first).
        max_history_chars: characters of text, tool arguments and outputs the history keeps
            (the oldest items go first).
        max_handoffs_per_turn: transfers between agents per user turn (see
            ``docs/handoffs.md``); past it a transfer call gets an error output and no swap.
        prices: rates that turn token usage into a cost estimate (see ``docs/cost.md``):
            :class:`~agentkit.usage.TokenPrices`, or a :class:`~agentkit.usage.PriceTable` from
            which the endpoint's model picks its rates. ``None``: tokens only, no cost.
    """

    tool_timeout: float = 30.0
    max_concurrent_tools: int = 8
    max_tool_rounds: int = 8
    interrupt_policy: InterruptPolicy = "finish"
    max_tool_output_chars: int = 100_000
    speak_progress: bool = True
    ready_timeout: float = 15.0
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    max_argument_chars: int = 64_000
    max_calls_per_minute: int | None = None
    approve: ApprovalHook | None = None
    approval_timeout: float = 60.0
    max_queued_events: int = 2_000
    trace_content: bool = False
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    stale_response_after: float | None = 30.0
    max_buffered_events: int | None = 10_000
    buffer_policy: BufferPolicy = "backpressure"
    max_history_items: int = 5_000
    max_history_chars: int = 8_000_000
    prices: TokenPrices | PriceTable | None = None
    max_handoffs_per_turn: int = 4


class Session:
    """A live conversation between an :class:`Agent` and a realtime endpoint.

    Use it as an async context manager; iterate it for :mod:`agentkit.events`, or register
    handlers with :meth:`on`. It owns no event loop and no global state, so any number of
    sessions can run inside an existing asyncio service.

    Args:
        agent: instructions, tools and voice settings.
        endpoint: where to connect (ignored for the dialect when ``dialect`` is given).
        deps: the application's data, handed to tools as ``ToolContext.deps``.
        options: limits and policies.
        connector: opens the transport; defaults to :func:`agentkit.transport.connect`.
        dialect: the wire dialect; defaults to the endpoint's.
    """

    # Slots: a process may hold thousands of sessions, and an instance dict of this many
    # attributes costs about 1.5 KiB each (too many keys for CPython to share them).
    __slots__ = (
        "__weakref__",
        "_close_event",
        "_closed",
        "_config_event_id",
        "_connected",
        "_connector",
        "_events",
        "_expiry_timer",
        "_failed_restores",
        "_flushing",
        "_handlers",
        "_handoff_trail",
        "_held_since",
        "_meter",
        "_outbox",
        "_output_watch",
        "_ready",
        "_rollover_reason",
        "_runner",
        "_stale_timer",
        "_tasks",
        "_told_later",
        "_tracing",
        "_transport",
        "agent",
        "deps",
        "dialect",
        "expires_at",
        "model_profile",
        "options",
        "server_session",
        "session_id",
        "state",
    )

    def __init__(
        self,
        agent: Agent,
        endpoint: Endpoint | None = None,
        *,
        deps: Any = None,
        options: SessionOptions | None = None,
        connector: Connector | None = None,
        dialect: Dialect | None = None,
    ) -> None:
        if endpoint is not None and not isinstance(endpoint, Endpoint):
            raise TypeError(_not_an_endpoint(endpoint))
        if endpoint is None and (connector is None or dialect is None):
            endpoint = Endpoint.from_env()
        self.agent = agent
        self.deps = deps
        self.options = options or SessionOptions()
        self.dialect = dialect or (endpoint.dialect if endpoint else Dialect.GA)
        _refuse_ga_only(agent.session_config(), self.dialect)
        self._connector = connector or _endpoint_connector(endpoint)
        self.model_profile: ModelProfile | None = endpoint.model_profile if endpoint else None
        self.state = ConversationState(
            max_tool_rounds=self.options.max_tool_rounds,
            max_history_items=self.options.max_history_items,
            max_history_chars=self.options.max_history_chars,
            max_argument_chars=self.options.max_argument_chars,
            max_calls_per_minute=self.options.max_calls_per_minute,
            stale_response_after=self.options.stale_response_after,
            interrupt_policy=self.options.interrupt_policy,
            auto_interrupt=agent.server_interrupts,
            auto_response=agent.server_responds,
            server_vad=agent.turn_detection_config is not None,
        )
        self.session_id: str | None = None
        self.expires_at: int | None = None
        self.server_session: dict[str, Any] = {}
        self._transport: Transport | None = None
        self._tasks = TaskOwner()
        self._runner = ToolRunner(self)
        self._events = EventChannel(self.options.max_buffered_events, self.options.buffer_policy)
        self._handlers: dict[type, list[Handler]] = {}
        # A list, not a deque: it is nearly always empty, and an empty deque costs 760 bytes.
        self._outbox: list[tuple[ClientEvent, float]] = []
        self._flushing = False
        # Events decided while handling a chunk of frames or a tool's result, told once the
        # replies decided with them are written (None: tell at once).
        self._told_later: list[Emit | Event] | None = None
        self._held_since: float | None = None  # perf_counter() when they started to be held
        self._connected = False
        self._rollover_reason: str | None = None
        self._failed_restores = 0  # restores in a row whose configuration was not acknowledged
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._stale_timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Future[None] | None = None
        self._config_event_id: str | None = None
        self._closed = False
        self._close_event: SessionClosed | None = None
        self._tracing: NoTracing = session_tracer(self, endpoint)
        self._meter = UsageMeter(session_prices(self.options.prices, endpoint))
        self._handoff_trail: list[Agent] | None = None  # who handed over, latest last
        self._output_watch: OutputWatch | None = None
        self._watch_output(agent)

    def __repr__(self) -> str:
        name, dialect = self.agent.name, self.dialect.value
        return f"Session(agent={name!r}, id={self.session_id!r}, dialect={dialect})"

    @classmethod
    def attach(
        cls,
        call_id: str,
        agent: Agent,
        endpoint: Endpoint,
        *,
        deps: Any = None,
        options: SessionOptions | None = None,
        keypad: Keypad | None = None,
    ) -> SidebandSession:
        """A session on the sideband of a call that a browser (WebRTC) or a phone (SIP)
        carries: the agent and its tools run here, the audio stays with the caller. See
        :class:`~agentkit.calls.SidebandSession` and docs/telephony.md."""
        from agentkit.calls.sideband import SidebandSession

        return SidebandSession(call_id, agent, endpoint, deps=deps, options=options, keypad=keypad)

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect, send the agent's configuration and wait until the service accepts it.

        Raises:
            UnsupportedOptionError: the endpoint's model does not take an option the agent
                sets (checked before the socket opens; see :mod:`agentkit.models`).
        """
        check_session_config(self.agent.session_config(), self.model_profile)
        self._ready = asyncio.get_running_loop().create_future()
        policy = self.options.reconnect
        with self._tracing.starting():
            if policy.enabled:
                self._transport = await connect_with_retry(self._connector, policy)
            else:
                self._transport = await self._connector()
        self._connected = True
        self._tasks.start(self._read_loop(), name="agentkit-reader")
        await self._send(SessionUpdate(session=self.agent.session_config()), config=True)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.options.ready_timeout)
        except BaseException:
            await self.close()
            raise
        self._ready = None  # accepted; a future kept for nothing is 200 bytes per session

    async def close(self) -> None:
        """Cancel running tools (each still answered if the socket is open), then close."""
        if self._closed:
            return
        self._closed = True
        running = self._runner.cancel_all("the session closed")
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        self._runner.stop_timer()
        for timer in (self._stale_timer, self._expiry_timer):
            if timer is not None:
                timer.cancel()
        if self._transport is not None:
            self._events.make_room()  # a paused socket must be read for the closing handshake
            await self._transport.close()
        await self._tasks.cancel_all()
        self._finish(SessionClosed(code=1000, reason="closed by the application"))

    @property
    def closed(self) -> bool:
        return self._closed

    # -- application requests ----------------------------------------------------------------

    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Add a user message; ask for a response unless ``respond`` is False."""
        await self._send(user_message(text, item_id=new_item_id()))
        if respond:
            await self.create_response()

    async def ask(self, text: str, *, timeout: float | None = 120.0) -> Answer:
        """Send ``text`` and return the agent's final answer, once its tool calls are done.

        Waits for a turn in progress to end first. Takes no event from :meth:`events`, so it
        can run beside an application iterating the session. See :mod:`agentkit.answer`.

        Raises:
            AnswerTimeoutError: no final answer within ``timeout`` seconds.
            SessionClosedError: the session closed first.
            ServerError: the service refused the message or the request for a response.
        """
        return await ask(self, text, timeout=timeout)

    async def aside(
        self,
        instructions: str,
        *,
        input: Sequence[str | Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = 30.0,
    ) -> AsideResult:
        """Ask the model something on the side (``"classify the caller's intent"``) and get
        its answer, without a word of it entering the conversation; runs even while a response
        is active. See :mod:`agentkit.aside`.

        Args:
            instructions: what to do.
            input: the context instead of the conversation (strings are user messages).
            metadata: string pairs echoed back in the result.
            timeout: seconds to wait (``None``: no limit).

        Raises:
            AnswerTimeoutError: no answer in time.
            ServerError: the service refused the request.
            SessionClosedError: the session closed first.
        """
        return await aside(self, instructions, input=input, metadata=metadata, timeout=timeout)

    async def send_image(
        self,
        image: ImageLike,
        *,
        text: str | None = None,
        detail: ImageDetail | None = None,
        respond: bool = True,
    ) -> None:
        """Show the model an image, with optional words; ask for a response unless
        ``respond`` is False. See :mod:`agentkit.images`.

        Args:
            image: an :class:`~agentkit.images.Image`, PNG or JPEG bytes, a file path, an
                ``http(s)://`` URL (fetched here) or a ``data:`` URI.
            text: words sent in the same message, before the image.
            detail: ``"auto"``, ``"low"`` or ``"high"``; ``None`` leaves it to the service.
            respond: ask for a response after it.

        Raises:
            UnsupportedOptionError: the endpoint's model takes no images.
            ImageError: the image is unreadable, too large, or not PNG or JPEG.
        """
        check_images(self.model_profile)
        loaded = await load_image(image, detail=detail)
        item = user_image(loaded.data_uri(), detail=loaded.detail, text=text, item_id=new_item_id())
        await self._send(item)
        if respond:
            await self.create_response()

    async def send_audio(self, pcm: bytes) -> None:
        """Append a chunk of input audio (in the agent's input format) to the buffer."""
        await self._send(audio_append(pcm))

    async def commit_audio(self, *, respond: bool = False) -> None:
        """Turn the buffered audio into a user message (needed when turn detection is off)."""
        await self._send(InputAudioBufferCommit())
        if respond:
            await self.create_response()

    async def clear_audio(self) -> None:
        await self._send(InputAudioBufferClear())

    async def create_response(self, options: ResponseOptions | None = None) -> None:
        """Ask the model to respond; waits for the active response to finish first."""
        if options is not None:
            _refuse_ga_only(options, self.dialect)
            check_session_config(options, self.model_profile)
        await self._perform(self.state.request_response(options))

    async def cancel_response(self) -> None:
        """Stop the current response (``response.cancel``); the service still sends its
        ``response.done``, with status ``cancelled``."""
        await self._perform(self.state.cancel_response())

    async def interrupt(self) -> None:
        """Cut the assistant off: cancel its response and truncate what the user did not hear."""
        await self._perform(self.state.interrupt())

    def report_playback(self, item_id: str, played_ms: int) -> None:
        """Tell the session how much of an audio item was played, for exact truncation."""
        self.state.report_playback(item_id, played_ms)

    async def update_agent(self, agent: Agent) -> None:
        """Switch to another agent's instructions and tools (a hand-off), mid-session."""
        _refuse_ga_only(agent.session_config(), self.dialect)
        check_session_config(agent.session_config(), self.model_profile)
        self.agent = agent
        self.state.auto_interrupt = agent.server_interrupts
        self.state.auto_response = agent.server_responds
        self.state.server_vad = agent.turn_detection_config is not None
        self._watch_output(agent)
        await self._send(SessionUpdate(session=agent.session_config()))

    def _watch_output(self, agent: Agent) -> None:
        """Read the transcript for output guardrails, once an agent that may need it comes."""
        if self._output_watch is None and agent.checks_output:
            self._output_watch = OutputWatch(self)

    async def send_event(self, event: ClientEvent) -> None:
        """Send any client event (it is remembered so that errors can be matched to it)."""
        await self._send(event)

    @property
    def idle(self) -> bool:
        """Nothing in progress: no response running or wanted, every tool call answered.

        After a :class:`~agentkit.events.ResponseFinished`, this tells the agent's final answer
        (the turn is over) from a response that only called tools (a follow-up will come).
        """
        return self.state.idle()

    @property
    def usage(self) -> TokenUsage:
        """Tokens of every response so far, summed (see :class:`~agentkit.events.UsageUpdated`)."""
        return self._meter.total

    @property
    def cost(self) -> float | None:
        """The estimated cost of every response so far, in US dollars; ``None`` without
        ``SessionOptions.prices`` or when a token kind used has no price."""
        return self._meter.total_cost

    @property
    def history(self) -> list[HistoryItem]:
        """The conversation as the session saw it, in the server's order."""
        return self.state.history_items()

    # -- events ------------------------------------------------------------------------------

    def on(self, event_type: type[E], handler: Callable[[E], Awaitable[None] | None]) -> None:
        """Call ``handler`` for every event of ``event_type`` (inline: keep it quick)."""
        self._handlers.setdefault(event_type, []).append(handler)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def events(self) -> AsyncIterator[Event]:
        """Every application event, ending after :class:`SessionClosed`."""
        self._events.reader_joined()
        try:
            while True:
                event = await self._events.get()
                yield event
                if isinstance(event, SessionClosed):
                    self._events.put_nowait(event)  # later iterators end too
                    return
        finally:
            self._events.reader_left()

    async def wait_for(self, event_type: type[E], timeout: float | None = None) -> E:
        """The next event of ``event_type``; raises ``SessionClosedError`` if the session ends."""

        async def first() -> E:
            async for event in self.events():
                if isinstance(event, event_type):
                    return event
                if isinstance(event, SessionClosed):
                    raise SessionClosedError(f"session closed: {event.reason or event.code}")
            raise SessionClosedError("session closed")

        return await asyncio.wait_for(first(), timeout)

    # -- internals ---------------------------------------------------------------------------

    async def _send(self, event: ClientEvent, *, config: bool = False) -> None:
        if self._closed or self._transport is None:
            raise SessionClosedError("the session is closed")
        self.state.sent(event)
        if config:
            self._config_event_id = event.event_id
        if not self._connected and len(self._outbox) >= self.options.max_queued_events:
            self._make_room()
        self._outbox.append((event, time.monotonic()))
        self._tracing.sending(event)  # a response.create from send_event starts a span too
        await self._flush()

    def _make_room(self) -> None:
        """Drop the oldest queued audio chunk (stale audio is worth least) and say so."""
        for index, (queued, _) in enumerate(self._outbox):
            if type(queued) is InputAudioBufferAppend:
                del self._outbox[index]
                message = "input audio dropped: too many events queued while disconnected"
                self._emit(ErrorOccurred(message=message, code="queue_overflow"))
                return
        raise SessionClosedError(
            f"more than {self.options.max_queued_events} events queued while disconnected"
        )

    async def _perform(self, actions: list[Action]) -> None:
        """Apply the state's decisions, send what they queued, then tell the application."""
        if not self._perform_now(actions):
            await self._flush()

    def _perform_now(self, actions: list[Action]) -> bool:
        """:meth:`_perform` up to its first await; see :meth:`_write_then_tell`."""
        return self._write_then_tell(self._apply, actions)

    def _write_then_tell(self, decide: Callable[[_T], None], what: _T) -> bool:
        """Run ``decide(what)`` with events held, write the replies it queued, then tell the
        events (or, inside a chunk of frames, leave them to the chunk's end). False when the
        replies have to wait for the socket: the caller then awaits :meth:`_flush`, and the
        events are not held back for it."""
        owner = self._hold_events()
        try:
            decide(what)
            return not self._outbox or self._flush_now()
        finally:
            if owner:
                self._tell_held()

    def _hold_events(self) -> bool:
        """Hold events back until the replies are written; False if they are held already."""
        if self._told_later is not None:
            return False
        self._told_later = []
        self._held_since = time.perf_counter()
        return True

    def _tell_held(self) -> None:
        """Tell the application, in order, what was held back; built only now (see Emit)."""
        self.state.record_history()
        held, self._told_later = self._told_later, None
        if held:
            for item in held:
                self._tell(item)
        self._held_since = None

    def _event_time(self) -> tuple[int, float]:
        """When the event being told happened, as ``time.time_ns()`` and ``perf_counter()``:
        events are told once the replies decided with them are written, a little after."""
        now_ns, now = time.time_ns(), time.perf_counter()
        held = self._held_since
        if held is None:
            return now_ns, now
        return now_ns - int((now - held) * 1e9), held

    def _apply(self, actions: list[Action]) -> None:
        """Sends are queued synchronously, right where the state decided them, so concurrent
        tool tasks can never reorder an output and its follow-up. Calls start last: an eagerly
        started tool may answer at once, and its output must queue behind everything decided
        before it."""
        starts: list[Call] = []
        for action in actions:
            if type(action) is Send:
                self._outbox.append((action.event, time.monotonic()))
                self._tracing.sending(action.event)
            elif type(action) is Emit:
                self._emit(action)
            elif type(action) is StartCall:
                starts.append(action.call)
            elif type(action) is CancelCalls:
                self._runner.cancel(action.call_ids, action.reason)
            elif type(action) is StartApproval:  # type: ignore[comparison-overlap]
                self._runner.start_approval(action.call)
        for call in starts:
            self._runner.start(call)
        if self._stale_timer is None and self.state.watched():
            self._schedule_stale_check()

    async def _flush(self) -> None:
        """Send queued events in order; one flusher at a time drains for everyone.

        While disconnected nothing is sent; an event leaves the queue only once it was written,
        so a drop loses nothing the state did not already account for.
        """
        if self._flush_now():
            return
        self._flushing = True
        try:
            while self._outbox and self._connected and self._transport is not None:
                outbox, transport = self._outbox, self._transport
                if len(outbox) == 1 or not hasattr(transport, "send_many"):
                    await transport.send(encode(outbox[0][0], self.dialect))
                    del outbox[0]
                    continue
                count = len(outbox)
                await transport.send_many([encode(event, self.dialect) for event, _ in outbox])
                del outbox[:count]
        except ConnectionFailedError:
            self._connected = False  # the reader sees the close and reconnects or ends
        finally:
            self._flushing = False

    def _flush_now(self) -> bool:
        """Write the whole queue without awaiting, when the transport can and its buffer has
        room; False when :meth:`_flush` has to send (and await) instead."""
        transport = self._transport
        if self._flushing or not self._connected or transport is None or not self._outbox:
            return True  # a running flusher drains it, or the reconnect does
        send_now = getattr(transport, "send_now", None)
        if send_now is None or getattr(transport, "write_paused", False):
            return False
        outbox = self._outbox
        try:
            send_now([encode(event, self.dialect) for event, _ in outbox])
        except ConnectionFailedError:
            self._connected = False
            return True
        outbox.clear()
        return True

    def _emit(self, event: Event | Emit) -> None:
        held = self._told_later
        if held is not None:
            held.append(event)  # behind the events held before it
        else:
            self._tell(event)

    def _tell(self, item: Event | Emit) -> None:
        event = item.event if isinstance(item, Emit) else item  # an Emit is built only now
        if type(event) is ResponseFinished and event.usage is not None:
            self._tell(_usage_updated(self._meter, event))
        self._events.put_nowait(event)
        for handler in self._handlers.get(type(event), ()):
            try:
                outcome = handler(event)
            except Exception:  # the application's bug: the conversation and later events go on
                logger.exception("an event handler failed")
                continue
            if outcome is not None:
                self._tasks.start(_awaited(outcome), name="agentkit-handler")

    async def _read_loop(self) -> None:
        """Read frames until the transport ends, then reconnect or end the session. One
        coroutine, not a loop awaiting a pump: each idle session keeps one frame alive."""
        while True:
            transport = self._transport
            assert transport is not None
            try:
                listen = getattr(transport, "listen", None)
                if listen is not None:
                    # From here recv() only waits for the close.
                    listen(self._on_message, self._end_of_chunk)
                while True:  # recv() rather than async-for: no async generator per session
                    if self._events.over:
                        await self._room_for_events()
                    await self._on_frame(await transport.recv())
            except ConnectionClosedError as exc:
                ended = exc
            except ConnectionFailedError as exc:
                ended = ConnectionClosedError(1006, str(exc))
            self._end_of_chunk()  # a hold never spans an await: whatever is held is told now
            if self._closed:
                return
            self._connected = False
            reason = self._rollover_reason or _describe_close(ended)
            if not self._worth_reconnecting(ended):
                await self._end(ended.code, ended.reason)
                return
            if self._failed_restores >= self.options.reconnect.max_attempts:
                await self._give_up_restoring(reason)
                return
            if not await self._reconnect(reason):
                return

    def _worth_reconnecting(self, ended: ConnectionClosedError) -> bool:
        rejected = self._ready is not None and self._ready.done() and self._ready.exception()
        if not self.options.reconnect.enabled or rejected:
            return False
        return self._rollover_reason is not None or is_retryable(ended)

    async def _give_up_restoring(self, reason: str) -> None:
        """Every new socket dropped before the service took the restored configuration: the
        failure follows the session, so another attempt would only repeat it."""
        attempts = self._failed_restores
        why = (
            f"the connection dropped {attempts} times in a row before the service accepted the "
            f"restored session ({reason}); not trying again"
        )
        self._emit(ReconnectGaveUp(attempts=attempts, reason=why))
        await self._end(1006, f"reconnection gave up: {why}")

    async def _end(self, code: int, reason: str) -> None:
        self._closed = True
        self._fail_ready(ConnectionClosedError(code, reason))
        self._runner.cancel_all("the connection was lost")
        self._finish(SessionClosed(code=code, reason=reason))

    async def _reconnect(self, reason: str) -> bool:
        """Open a new socket, restore configuration and conversation, resume; False if gave up."""
        policy = self.options.reconnect
        self.state.connection_lost()
        attempts = 0

        async def announce(attempt: int, waited: float, error: BaseException | None) -> None:
            nonlocal attempts
            attempts = attempt
            why = reason if error is None else f"{reason}; last attempt: {error}"
            self._emit(Reconnecting(attempt=attempt, reason=why, delay_s=waited))

        try:
            transport = await connect_with_retry(self._connector, policy, before_attempt=announce)
        except Exception as exc:
            self._emit(ReconnectGaveUp(attempts=attempts, reason=str(exc)))
            await self._end(1006, f"reconnection gave up: {exc}")
            return False
        self._rollover_reason = None
        self._transport = transport
        await self._restore(attempts, reason)
        return True

    async def _restore(self, attempt: int, reason: str) -> None:
        """Configuration, then history, then what waited; queued input audio last."""
        self._failed_restores += 1  # until the service acknowledges the configuration
        replay = self._replay()
        retained, dropped = self._fresh_audio()
        now = time.monotonic()
        self._outbox.clear()
        restore: list[ClientEvent] = [SessionUpdate(session=self.agent.session_config())]
        restore.extend(replay.events)
        self._config_event_id = restore[0].event_id
        for event in restore:
            self.state.sent(event)
            self._outbox.append((event, now))
        self._outbox.extend(retained)
        self._connected = True
        self._emit(
            Reconnected(
                attempt=attempt,
                reason=reason,
                restored_items=replay.restored,
                not_restored=replay.not_restored,
                dropped_audio_chunks=dropped,
            )
        )
        await self._perform(self.state.resumed())
        await self._flush()

    def _replay(self) -> Replay:
        """What rebuilds the conversation on a new socket (a sideband's call keeps its own)."""
        return self.state.replay(self.options.reconnect.replay_items)

    def _fresh_audio(self) -> tuple[list[tuple[ClientEvent, float]], int]:
        """Queued input-buffer events worth sending late; everything else the state re-derives."""
        oldest = time.monotonic() - self.options.reconnect.max_audio_age
        kept: list[tuple[ClientEvent, float]] = []
        dropped = 0
        for event, queued_at in self._outbox:
            if not event.type.startswith("input_audio_buffer."):
                continue
            if type(event) is InputAudioBufferAppend and queued_at < oldest:
                dropped += 1
            else:
                kept.append((event, queued_at))
        return kept, dropped

    async def _on_frame(self, frame: str | bytes) -> None:
        """A frame pulled with ``recv()``."""
        if not self._write_then_tell(self._handle_frame, frame):
            await self._flush()

    def _on_message(self, frame: str | bytes) -> None:
        """A frame pushed by a listening transport, inside its protocol callback: replies are
        written before the callback returns, with no task switch in between. What it means
        to the application is told at the chunk's end (:meth:`_end_of_chunk`)."""
        if self._told_later is None:
            self._hold_events()
        try:
            self._handle_frame(frame)
            if self._outbox and not self._flush_now():
                self._tasks.start(self._flush(), name="agentkit-flush")
        except Exception as exc:  # never into the transport's callback: it would drop the socket
            self._internal_error("a frame", exc)

    def _handle_frame(self, frame: str | bytes) -> None:
        """Decode, tell the application, let the state decide and queue what it decided."""
        try:
            event = decode(frame)
        except ProtocolError as exc:
            logger.warning("ignored a bad frame: %s", exc)
            self._emit(ErrorOccurred(message=str(exc), code="protocol_error"))
            return
        try:
            app_event = APP_EVENTS.get(type(event))
            if app_event is not None:
                mapped = app_event(event)
                asides = self.state.asides
                # An aside's words are its caller's, not the assistant's speech.
                if mapped is not None and not (
                    asides and event.__dict__.get("response_id") in asides
                ):
                    self._emit(mapped)
            elif type(event) in _SESSION_EVENTS:
                self._on_session_event(event)
            actions = self.state.on_event(event)
            if self._stale_timer is None and self.state.watched():
                self._schedule_stale_check()
            if actions:
                self._apply(actions)
        except Exception as exc:  # one odd event must not end the conversation
            self._internal_error(f"a {event.type} event", exc)

    def _end_of_chunk(self) -> None:
        """After the frames of one socket read: tell their events, and wake readers once."""
        if self._told_later is not None:
            events = self._events
            events.hold()
            self._tell_held()
            events.release()
        if self._events.over:
            self._pause_reading()

    def _pause_reading(self) -> None:
        """Backpressure on a listening transport: read no more until the iterator has room."""
        transport = self._transport
        pause = getattr(transport, "pause_reading", None)
        resume = getattr(transport, "resume_reading", None)
        if pause and resume and transport is not None and not transport.closed:
            self._events.when_room(resume)
            pause()

    async def _room_for_events(self) -> None:
        """Backpressure on a transport read with ``recv()``: wait for the iterator."""
        room: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def made() -> None:
            if not room.done():
                room.set_result(None)

        self._events.when_room(made)
        await room

    def _internal_error(self, what: str, exc: Exception) -> None:
        """A bug of agentkit's met while handling ``what``: logged, told, and survived."""
        logger.exception("failed to handle %s", what)
        message = f"agentkit could not handle {what}: {exc}"
        self._emit(ErrorOccurred(message=message, code="internal_error"))

    def _on_session_event(self, event: ev.ServerEvent) -> None:
        if isinstance(event, ev.SessionCreated):
            self.session_id = event.session.get("id")
            expires = event.session.get("expires_at")
            self.expires_at = expires if isinstance(expires, int) else None
            self.server_session = event.session
            self._watch_expiry()
        elif isinstance(event, ev.SessionUpdated):
            self.server_session = event.session
            self._failed_restores = 0
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
                self._emit(SessionReady(session_id=self.session_id, expires_at=self.expires_at))
        elif isinstance(event, ev.ErrorEvent):
            error = event.error
            if error.code == "session_expired" and self._transport is not None:
                self._rollover_reason = "the session hit its maximum duration"
                self._tasks.start(self._transport.close(), name="agentkit-rollover")
            if error.event_id is not None and error.event_id == self._config_event_id:
                self._fail_ready(
                    ServerError(
                        f"the service rejected the session configuration: {error.message}",
                        code=error.code,
                        error_type=error.type,
                        event_id=error.event_id,
                        param=error.param,
                    )
                )

    def _schedule_stale_check(self) -> None:
        """A timer, not a sleeping task, and only while a response is active: an idle session
        should cost next to nothing. It fires when the response would become stale, so a
        response that ends in time costs one timer, not a timer every few seconds."""
        delay = self.state.stale_in()
        if delay is not None and not self._closed:
            # A hair late, so that the check finds the limit passed rather than re-arming.
            self._stale_timer = asyncio.get_running_loop().call_later(
                delay + 0.001, self._check_stale
            )

    def _check_stale(self) -> None:
        self._stale_timer = None
        if self._closed or not self._connected:
            return  # a lost socket settles the active response; the next one re-arms
        actions = self.state.check_stale()
        if actions:
            self._tasks.start(self._perform(actions), name="agentkit-stale")
        self._schedule_stale_check()

    def _watch_expiry(self) -> None:
        margin = self.options.reconnect.expiry_margin
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        if margin is None or self.expires_at is None or not self.options.reconnect.enabled:
            return
        delay = max(0.0, self.expires_at - margin - time.time())
        self._expiry_timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._tasks.start(self._roll_over(), name="agentkit-rollover")
        )

    async def _roll_over(self) -> None:
        """Move to a fresh socket before the service ends the session, between responses."""
        while not self.state.idle():  # noqa: ASYNC110 - idleness is derived state, not an event
            await asyncio.sleep(0.05)
        if not self._closed and self._transport is not None:
            self._rollover_reason = "the session is about to reach its maximum duration"
            self._events.make_room()
            await self._transport.close()

    def _fail_ready(self, exc: BaseException) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(exc)
            self._ready.exception()  # retrieved here; start() re-raises it

    def server_config(self) -> SessionConfig:
        """The service's view of the session, in dialect-neutral form."""
        return session_from_wire(self.server_session, self.dialect)

    def _finish(self, event: SessionClosed) -> None:
        if self._close_event is None:
            self._close_event = event
            self._tracing.closed(event)
            self._tell(event)  # handlers hear of it too (Session.ask waits on them)

    # -- tools -------------------------------------------------------------------------------

    async def _progress(self, call: Call, message: str) -> None:
        self._emit(ToolProgress(call_id=call.call_id, name=call.name, message=message))
        if self.options.speak_progress and not self._closed:
            await self._perform(self.state.progress(message))


def _refuse_ga_only(config: SessionConfig | ResponseOptions, dialect: Dialect) -> None:
    """Settings the preview protocol cannot carry fail here, before anything is sent."""
    unsupported = ga_only_settings(config, dialect)
    if unsupported:
        raise ConfigurationError(
            f"{', '.join(unsupported)} need the GA protocol (reasoning models such as "
            "gpt-realtime-2); this endpoint speaks the preview protocol, which has no such setting"
        )
    if dialect is Dialect.PREVIEW and any(t.get("type") == "mcp" for t in config.tools or ()):
        raise ConfigurationError(
            "hosted MCP tools (HostedMCP) need the GA protocol; this endpoint speaks the "
            "preview protocol, which has none (agentkit.mcp runs an MCP server's tools on any)"
        )


def _usage_updated(meter: UsageMeter, finished: ResponseFinished) -> UsageUpdated:
    assert finished.usage is not None
    usage, cost = meter.add(finished.usage)
    total = meter.total
    return UsageUpdated(
        response_id=finished.response_id,
        usage=usage,
        total=total,
        cost=cost,
        total_cost=None if cost is None else meter.total_cost,
    )


async def _awaited(outcome: Awaitable[None]) -> None:
    try:
        await outcome
    except Exception:
        logger.exception("an event handler failed")


def _describe_close(ended: ConnectionClosedError) -> str:
    if is_expiry(ended.code, ended.reason):
        return "the session hit its maximum duration"
    return f"connection closed ({ended.code}{': ' + ended.reason if ended.reason else ''})"


def _not_an_endpoint(value: object) -> str:
    """Why ``value`` cannot be a session's endpoint, and what to pass instead."""
    kind = type(value).__name__
    if isinstance(value, str):
        hint = "for a URL, pass Endpoint.custom(url, credential=...)"
    elif hasattr(value, "ga_url") and hasattr(value, "api_key"):
        hint = "for the simulator, pass Endpoint.custom(sim.ga_url(), credential=sim.api_key)"
    else:
        hint = "build one with Endpoint.azure(), Endpoint.openai(), Endpoint.custom() or from_env()"
    return f"Session() expects an agentkit Endpoint, not a {kind}: {hint}"


def _endpoint_connector(endpoint: Endpoint | None) -> Connector:
    assert endpoint is not None
    return functools.partial(connect, endpoint)  # lighter than a closure, per session


_SESSION_EVENTS: frozenset[type] = frozenset((ev.SessionCreated, ev.SessionUpdated, ev.ErrorEvent))
