"""Run one user turn to its answer: what :meth:`Session.ask` does.

A user turn may take several responses: one that calls tools, then a follow-up once their
outputs are in (and again, up to ``SessionOptions.max_tool_rounds``). The answer is the response
after which the session is idle: nothing running or wanted, every call answered.

``ask`` watches the session's events the way handlers registered with :meth:`Session.on` do: it
takes nothing from ``session.events()``, so an application iterating the session still sees
every event of the turn, and ``ask`` may run beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit.errors import AgentkitError, ServerError, SessionClosedError
from agentkit.events import (
    ErrorOccurred,
    Event,
    HostedToolCallFinished,
    Reconnected,
    ResponseFinished,
    ResponseStarted,
    SessionClosed,
    ToolCallFinished,
    ToolCallStarted,
    UsageUpdated,
)
from agentkit.usage import TokenUsage

if TYPE_CHECKING:
    from agentkit.session import Session

__all__ = ["Answer", "AnswerTimeoutError", "ToolCall", "ask"]


class AnswerTimeoutError(AgentkitError, asyncio.TimeoutError):
    """:meth:`Session.ask` got no final answer in time. The turn is not cancelled: its events
    still arrive, and ``session.cancel_response()`` stops it. Also an ``asyncio.TimeoutError``.

    Attributes:
        timeout: the seconds that were allowed.
    """

    def __init__(self, message: str, *, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(message)


@dataclass(frozen=True)
class ToolCall:
    """A tool call the turn made, with the output the model was given. A hosted MCP tool's
    call, which the service made, has its ``server_label`` and the call item's id as
    ``call_id``; its ``duration_s`` is 0 (the service does not tell it)."""

    call_id: str
    name: str
    arguments: str
    output: str
    is_error: bool = False
    error_type: str | None = None
    duration_s: float = 0.0
    server_label: str | None = None


@dataclass(frozen=True)
class Answer:
    """The agent's final answer to one user turn.

    Attributes:
        text: the final response's words: its text, or the transcript of its audio.
        status: the final response's status: ``completed``, ``cancelled``, ``incomplete`` or
            ``failed``.
        tool_calls: every call the turn made, in the order they finished.
        usage: the tokens of the turn's responses, summed.
        cost: their estimated cost in US dollars, from ``SessionOptions.prices`` (``None``
            without prices, or when a token kind used has no price).
        responses: every response of the turn, in order; the last is the answer.
    """

    text: str
    status: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: TokenUsage
    cost: float | None
    responses: tuple[ResponseFinished, ...]

    @property
    def response_ids(self) -> tuple[str, ...]:
        """The ids of the turn's responses, in order."""
        return tuple(r.response_id for r in self.responses if r.response_id is not None)


_OBSERVED: tuple[type[Event], ...] = (
    ResponseStarted,
    ResponseFinished,
    ToolCallStarted,
    ToolCallFinished,
    HostedToolCallFinished,
    UsageUpdated,
    ErrorOccurred,
    Reconnected,
    SessionClosed,
)

_turns: weakref.WeakKeyDictionary[Session, asyncio.Lock] = weakref.WeakKeyDictionary()
"""One turn at a time per session: asks made concurrently run one after the other."""


async def ask(session: Session, text: str, *, timeout: float | None = 120.0) -> Answer:
    """Send ``text`` as a user message and return the agent's final answer to it.

    If another turn is in progress, waits for it to end first. Tool calls run as usual; the
    answer lists them. ``timeout`` (seconds, ``None`` for none) covers the whole wait.

    Raises:
        AnswerTimeoutError: no final answer within ``timeout``.
        SessionClosedError: the session closed first.
        ServerError: the service refused the message or the request for a response.
    """
    watcher = _TurnWatcher(session)
    lock = _turns.setdefault(session, asyncio.Lock())
    # An ask awaited inside ``async for event in session`` stops that loop from reading: the
    # turn's events must not stop the socket being read, or the answer could never come.
    with watcher.observing(), session._events.unbounded():
        try:
            return await asyncio.wait_for(_turn(session, lock, watcher, text), timeout)
        except asyncio.TimeoutError:
            assert timeout is not None
            raise AnswerTimeoutError(
                f"no answer within {timeout:g} s ({watcher.progress()})", timeout=timeout
            ) from None


async def _turn(session: Session, lock: asyncio.Lock, watcher: _TurnWatcher, text: str) -> Answer:
    async with lock:
        if session.closed:
            raise SessionClosedError("the session is closed")
        while not session.idle:
            await watcher.until_idle()
        watcher.begin()
        await session.send_text(text)
        return await watcher.outcome


@contextmanager
def watching(
    session: Session,
    event_types: Iterable[type[Event]],
    on_event: Callable[[Any], None],
    outcome: asyncio.Future[Any],
) -> Iterator[None]:
    """Watch ``event_types`` as an event handler does (taking nothing from the session's
    iterator) until ``outcome`` is settled, and stop on the way out: an outcome nobody
    waits for any more is cancelled, and one settled another way is retrieved."""
    kinds = tuple(event_types)
    handlers = session._handlers  # the handlers' list, not the events' channel
    for event_type in kinds:
        handlers.setdefault(event_type, []).append(on_event)
    try:
        yield
    finally:
        for event_type in kinds:
            handlers[event_type].remove(on_event)
        if not outcome.done():
            outcome.cancel()
        elif not outcome.cancelled():
            outcome.exception()  # retrieved: it may have been raised another way


class _TurnWatcher:
    """Collects one turn's responses and calls from the events the session tells."""

    def __init__(self, session: Session) -> None:
        self.session = session
        loop = asyncio.get_running_loop()
        self.outcome: asyncio.Future[Answer] = loop.create_future()
        self._idle: asyncio.Future[None] | None = None
        self._begun = False
        self._responses: list[ResponseFinished] = []
        self._arguments: dict[str, str] = {}
        self._calls: list[ToolCall] = []
        self._usage = TokenUsage()
        self._costs: list[float | None] = []

    def observing(self) -> contextlib.AbstractContextManager[None]:
        return watching(self.session, _OBSERVED, self._on_event, self.outcome)

    async def until_idle(self) -> None:
        """Until the turn in progress ends; raises what ended the session, if it ends first."""
        self._idle = idle = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait((idle, self.outcome), return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
        if self.outcome.done():
            self.outcome.result()

    def begin(self) -> None:
        self._begun = True

    def progress(self) -> str:
        return f"responses finished: {len(self._responses)}, tool calls: {len(self._calls)}"

    def _on_event(self, event: Event) -> None:
        if self.outcome.done():
            return
        if isinstance(event, SessionClosed):
            reason = event.reason or event.code
            self.outcome.set_exception(SessionClosedError(f"session closed: {reason}"))
            return
        if not self._begun:
            if self._idle is not None and not self._idle.done() and self.session.idle:
                self._idle.set_result(None)
            return
        self._record(event)
        if self.session.idle:
            self._maybe_finish(event)

    def _record(self, event: Event) -> None:
        if isinstance(event, ResponseFinished):
            self._responses.append(event)
        elif isinstance(event, UsageUpdated):  # told just before its ResponseFinished
            self._usage += event.usage
            self._costs.append(event.cost)
        elif isinstance(event, ToolCallStarted):
            self._arguments[event.call_id] = event.arguments
        elif isinstance(event, ToolCallFinished):
            arguments = self._arguments.pop(event.call_id, "")
            self._calls.append(
                ToolCall(
                    event.call_id,
                    event.name,
                    arguments,
                    event.output,
                    event.is_error,
                    event.error_type,
                    event.duration_s,
                )
            )
        elif isinstance(event, HostedToolCallFinished):
            error = event.error
            self._calls.append(
                ToolCall(
                    event.item_id,
                    event.name or "",
                    event.arguments,
                    (event.output or "") if error is None else str(error.get("message", "")),
                    is_error=error is not None,
                    error_type=None if error is None else str(error.get("type") or "error"),
                    server_label=event.server_label,
                )
            )

    def _maybe_finish(self, event: Event) -> None:
        """The session is idle: the turn is over if it just finished a response, or a call
        that asked for none (not at a ``UsageUpdated``, told before its response's end)."""
        if self._responses and type(event) in (ResponseFinished, ToolCallFinished):
            self.outcome.set_result(self._answer())
        elif isinstance(event, ErrorOccurred) and event.caused_by in _REFUSED_REQUESTS:
            self.outcome.set_exception(
                ServerError(
                    event.message,
                    code=event.code,
                    error_type=event.error_type,
                    event_id=event.event_id,
                )
            )

    def _answer(self) -> Answer:
        final = self._responses[-1]
        return Answer(
            text=final.text,
            status=final.status,
            tool_calls=tuple(self._calls),
            usage=self._usage,
            cost=_total(self._costs),
            responses=tuple(self._responses),
        )


_REFUSED_REQUESTS = frozenset({"response.create", "conversation.item.create"})


def _total(costs: list[float | None]) -> float | None:
    """The sum, or ``None`` when any part has no estimate (or nothing was reported)."""
    if not costs or any(cost is None for cost in costs):
        return None
    return sum(cost for cost in costs if cost is not None)
