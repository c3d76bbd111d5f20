"""Guardrails: checks the application runs on what the model says and on what it asks to do.

An *output guardrail* reads the assistant's words while they stream (checked again every
``every_chars`` new characters, at each sentence end, and on the finished transcript). When it
trips, the response is cancelled, the audio the user has not heard is truncated, and a recovery
response is asked for once the cancelled one has ended (the conversation state queues it, so it
never races the cancellation). An *input guardrail* reads each tool call before the approval
hook and before the function: when it trips, the call is answered with the guardrail's message
and the function never runs. Either way the application gets a
:class:`~agentkit.events.GuardrailTripped` with the verdict.

Checks may be plain functions or coroutines. Plain functions run in a worker thread and
coroutines in their own task, so a slow check never holds up the audio stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from opentelemetry import trace

from agentkit._workers import SyncCalls
from agentkit.actions import Call
from agentkit.approval import ToolCallRequest
from agentkit.errors import ConnectionFailedError, SessionClosedError
from agentkit.events import (
    ErrorOccurred,
    GuardrailTripped,
    GuardrailVerdict,
    Reconnecting,
    ResponseFinished,
    TranscriptDelta,
    TranscriptDone,
)
from agentkit.protocol.config import ResponseOptions
from agentkit.tools import ToolResult
from agentkit.tools.invoke import is_async_callable

if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.session import Session
    from agentkit.state import ConversationState

__all__ = [
    "DEFAULT_RECOVERY",
    "GuardrailVerdict",
    "InputCheck",
    "InputGuardrail",
    "OutputCheck",
    "OutputGuardrail",
    "OutputWatch",
    "input_guardrail",
    "output_guardrail",
    "screen_call",
]

logger = logging.getLogger("agentkit.guardrails")

DEFAULT_RECOVERY = (
    "Your last reply was stopped by a content check and the user did not hear the rest of it. "
    "Do not repeat it. Apologise briefly and continue without that content."
)
"""The instructions of the response that replaces one an output guardrail stopped."""

Verdict = GuardrailVerdict | None
OutputCheck = Callable[[str], "Verdict | Awaitable[Verdict]"]
"""Reads the assistant's words so far in one response; sync or async."""
InputCheck = Callable[[ToolCallRequest], "Verdict | Awaitable[Verdict]"]
"""Reads a tool call (name and raw JSON arguments); sync or async."""


@dataclass(frozen=True, eq=False)
class OutputGuardrail:
    """A check on the assistant's words as they stream (see :func:`output_guardrail`).

    Attributes:
        check: the function; it gets the response's text so far.
        name: the name told in :class:`~agentkit.events.GuardrailTripped`.
        every_chars: check again once this many new characters arrived (a sentence end also
            triggers a check, and so does the end of the transcript).
        recovery: the instructions of the response asked for after a trip; ``None`` asks for
            none (the model stays silent until the user speaks).
    """

    check: OutputCheck
    name: str
    every_chars: int = 80
    recovery: str | None = DEFAULT_RECOVERY
    _calls: SyncCalls = field(default_factory=SyncCalls, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.every_chars, bool) or self.every_chars < 1:
            raise ValueError(f"every_chars must be a positive number, not {self.every_chars!r}")

    async def run(self, text: str) -> GuardrailVerdict:
        """Run the check on ``text``; a plain function runs in a worker thread."""
        return _verdict(self.name, await _call(self.check, text, self._calls))


@dataclass(frozen=True, eq=False)
class InputGuardrail:
    """A check on tool calls, before approval and before the function (see
    :func:`input_guardrail`).

    Attributes:
        check: the function; it gets a :class:`~agentkit.approval.ToolCallRequest`.
        name: the name told in :class:`~agentkit.events.GuardrailTripped`.
        tools: the tool names it checks (``None``: every call).
    """

    check: InputCheck
    name: str
    tools: frozenset[str] | None = None
    _calls: SyncCalls = field(default_factory=SyncCalls, repr=False)

    def applies_to(self, tool_name: str) -> bool:
        return self.tools is None or tool_name in self.tools

    async def run(self, request: ToolCallRequest) -> GuardrailVerdict:
        """Run the check on ``request``; a plain function runs in a worker thread."""
        return _verdict(self.name, await _call(self.check, request, self._calls))


@overload
def output_guardrail(
    check: OutputCheck,
    /,
    *,
    name: str | None = None,
    every_chars: int = 80,
    recovery: str | None = DEFAULT_RECOVERY,
) -> OutputGuardrail: ...


@overload
def output_guardrail(
    *, name: str | None = None, every_chars: int = 80, recovery: str | None = DEFAULT_RECOVERY
) -> Callable[[OutputCheck], OutputGuardrail]: ...


def output_guardrail(
    check: OutputCheck | None = None,
    /,
    *,
    name: str | None = None,
    every_chars: int = 80,
    recovery: str | None = DEFAULT_RECOVERY,
) -> OutputGuardrail | Callable[[OutputCheck], OutputGuardrail]:
    """Make a function an output guardrail, bare (``@output_guardrail``) or with options.

    Args:
        check: ``(text) -> GuardrailVerdict | None``, sync or async; ``text`` is everything
            the response said so far.
        name: defaults to the function's name.
        every_chars: how many new characters trigger another check (sentence ends do too).
        recovery: the instructions of the replacement response, or ``None`` for none.
    """

    def make(func: OutputCheck) -> OutputGuardrail:
        return OutputGuardrail(func, name or _name_of(func), every_chars, recovery)

    return make if check is None else make(check)


@overload
def input_guardrail(
    check: InputCheck, /, *, name: str | None = None, tools: Collection[str] | None = None
) -> InputGuardrail: ...


@overload
def input_guardrail(
    *, name: str | None = None, tools: Collection[str] | None = None
) -> Callable[[InputCheck], InputGuardrail]: ...


def input_guardrail(
    check: InputCheck | None = None,
    /,
    *,
    name: str | None = None,
    tools: Collection[str] | None = None,
) -> InputGuardrail | Callable[[InputCheck], InputGuardrail]:
    """Make a function an input guardrail on tool calls, bare or with options.

    Args:
        check: ``(request) -> GuardrailVerdict | None``, sync or async.
        name: defaults to the function's name.
        tools: check only calls to these tools (default: every call).
    """
    names = None if tools is None else frozenset(_tool_names(tools))

    def make(func: InputCheck) -> InputGuardrail:
        return InputGuardrail(func, name or _name_of(func), names)

    return make if check is None else make(check)


def as_output_guardrails(
    items: Iterable[OutputGuardrail | OutputCheck],
) -> tuple[OutputGuardrail, ...]:
    """Normalise an agent's ``output_guardrails`` (plain functions are wrapped)."""
    return tuple(g if isinstance(g, OutputGuardrail) else output_guardrail(g) for g in items)


def as_input_guardrails(items: Iterable[InputGuardrail | InputCheck]) -> tuple[InputGuardrail, ...]:
    """Normalise an agent's ``input_guardrails`` (plain functions are wrapped)."""
    return tuple(g if isinstance(g, InputGuardrail) else input_guardrail(g) for g in items)


def _tool_names(tools: Collection[str]) -> list[str]:
    if isinstance(tools, str):
        raise TypeError(f"tools takes a collection of tool names, e.g. [{tools!r}]")
    return list(tools)


def _name_of(func: Callable[..., Any]) -> str:
    return getattr(func, "__name__", None) or type(func).__name__


async def _call(check: Callable[[Any], Any], argument: Any, calls: SyncCalls) -> Any:
    if is_async_callable(check):
        return await check(argument)
    value = await calls.call(check, (argument,), {})
    if isinstance(value, Awaitable):  # a plain function handing back a coroutine
        value = await value
    return value


def should_check(unchecked: int, delta: str, every_chars: int) -> bool:
    """Debounce: check once ``every_chars`` new characters arrived, or when a sentence ends."""
    if unchecked >= every_chars:
        return True
    return "." in delta or "!" in delta or "?" in delta or "\n" in delta


def _verdict(name: str, value: object) -> GuardrailVerdict:
    if value is None:
        return GuardrailVerdict()
    if isinstance(value, GuardrailVerdict):
        return value
    raise TypeError(
        f"guardrail {name!r} returned {type(value).__name__}; return a GuardrailVerdict "
        "(GuardrailVerdict.trip(message) or GuardrailVerdict.passed()) or None"
    )


# -- what the session runs -------------------------------------------------------------------


async def screen_call(session: Session, call: Call) -> ToolResult | None:
    """Run the agent's input guardrails on ``call``, in order; the first trip is its output.

    A check that raises counts as a trip (like an approval hook that fails): a broken
    guardrail must not let a call through.
    """
    guards = [g for g in session.agent.input_guards if g.applies_to(call.name)]
    if not guards:
        return None
    request = ToolCallRequest(call.call_id, call.name, call.arguments, session=session)
    for guard in guards:
        try:
            verdict = await guard.run(request)
        except Exception as exc:
            logger.exception("input guardrail %s failed on %s", guard.name, call.name)
            details = {"error": f"{type(exc).__name__}: {exc}"}
            verdict = GuardrailVerdict.trip(f"the {guard.name} check failed", details)
        if verdict.tripped:
            trace.get_current_span().set_attribute("agentkit.guardrail.tripped", guard.name)
            session._emit(
                GuardrailTripped(
                    guardrail=guard.name,
                    kind="input",
                    verdict=verdict,
                    call_id=call.call_id,
                    tool_name=call.name,
                )
            )
            message = verdict.message or f"{call.name} was blocked by the {guard.name} guardrail"
            return ToolResult.error(message, error_type="guardrail")
    return None


@dataclass(slots=True)
class _Words:
    """One response's words as the output guardrails see them."""

    parts: list[str] = field(default_factory=list)
    item_id: str | None = None
    unchecked: int = 0
    running: bool = False
    again: bool = False
    tripped: bool = False
    finished: bool = False


class OutputWatch:
    """Reads every response's transcript for the agent's output guardrails.

    It listens to the session's events like any handler, so the audio path pays for a dict
    append per delta; checks run in their own tasks, one at a time per response (text that
    arrives meanwhile is checked next, as a whole).
    """

    __slots__ = ("_every", "_responses", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._responses: dict[str, _Words] = {}
        self._every: tuple[object, int] = (None, 0)  # an agent, its smallest every_chars
        session.on(TranscriptDelta, self._on_delta)
        session.on(TranscriptDone, self._on_done)
        session.on(ResponseFinished, self._on_finished)
        session.on(Reconnecting, self._on_reconnecting)

    def _on_delta(self, event: TranscriptDelta) -> None:
        agent = self._session.agent
        if not agent.output_guards or event.response_id is None:
            return
        words = self._responses.get(event.response_id)
        if words is None:
            words = self._responses[event.response_id] = _Words()
        if words.tripped:
            return
        if words.item_id is not None and event.item_id != words.item_id:
            words.parts.append("\n")  # a response's messages read as separate lines
        words.item_id = event.item_id
        words.parts.append(event.delta)
        words.unchecked += len(event.delta)
        if should_check(words.unchecked, event.delta, self._every_for(agent)):
            self._schedule(event.response_id, words)

    def _every_for(self, agent: Agent) -> int:
        cached_agent, every = self._every
        if cached_agent is not agent:
            every = min(guard.every_chars for guard in agent.output_guards)
            self._every = (agent, every)
        return every

    def _on_done(self, event: TranscriptDone) -> None:
        words = self._responses.get(event.response_id or "")
        if words is not None and words.unchecked and not words.tripped:
            self._schedule(event.response_id or "", words)

    def _on_finished(self, event: ResponseFinished) -> None:
        words = self._responses.get(event.response_id or "")
        if words is not None:
            words.finished = True
            self._settle(event.response_id or "", words)

    def _on_reconnecting(self, event: Reconnecting) -> None:
        """Responses in flight went with the socket; none of them will finish."""
        for response_id, words in list(self._responses.items()):
            words.finished = True
            self._settle(response_id, words)

    def _settle(self, response_id: str, words: _Words) -> None:
        if words.finished and not words.running:
            self._responses.pop(response_id, None)

    def _schedule(self, response_id: str, words: _Words) -> None:
        if words.running:
            words.again = True
            return
        words.running = True
        words.unchecked = 0
        session = self._session
        session._tasks.start(self._check(response_id, words), name="agentkit-guardrail")

    async def _check(self, response_id: str, words: _Words) -> None:
        try:
            while True:
                await self._check_once(response_id, words, "".join(words.parts))
                if words.tripped or not words.again:
                    return
                words.again = False
                words.unchecked = 0
        finally:
            words.running = False
            self._settle(response_id, words)

    async def _check_once(self, response_id: str, words: _Words, text: str) -> None:
        guards = self._session.agent.output_guards
        results = await _run_all(guards, text)
        for guard, result in zip(guards, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                self._failed(guard, result)
            elif result.tripped and not words.tripped:
                words.tripped = True
                await self._trip(response_id, guard, result, text)

    def _failed(self, guard: OutputGuardrail, exc: BaseException) -> None:
        """A broken output check is told, and lets the words pass: stopping every reply for a
        bug in a check would silence the agent."""
        logger.error("output guardrail %s failed", guard.name, exc_info=exc)
        message = f"output guardrail {guard.name} failed: {type(exc).__name__}: {exc}"
        self._session._emit(ErrorOccurred(message=message, code="guardrail_error"))

    async def _trip(
        self, response_id: str, guard: OutputGuardrail, verdict: GuardrailVerdict, text: str
    ) -> None:
        session = self._session
        state = session.state
        if session.closed or not _in_this_turn(state, response_id):
            return  # lost with the socket (its replacement is checked anew), or too late
        recovery = None
        if guard.recovery is not None and state.recoveries_this_turn == 0 and not state.speaking:
            parts = (session.agent.instructions, guard.recovery)
            recovery = ResponseOptions(instructions="\n\n".join(p for p in parts if p))
        session._emit(
            GuardrailTripped(
                guardrail=guard.name,
                kind="output",
                verdict=verdict,
                response_id=response_id,
                text=text,
                recovering=recovery is not None,
            )
        )
        try:
            await session._perform(state.stop_response(recovery))
        except (SessionClosedError, ConnectionFailedError):
            logger.info("guardrail %s: the connection is gone", guard.name)


async def _run_all(
    guards: tuple[OutputGuardrail, ...], text: str
) -> list[GuardrailVerdict | BaseException]:
    """Every check's verdict or exception. One check runs in this task: a quick coroutine
    then decides within the loop step that started it, ahead of whatever the events it
    read woke up (the application's next message, say)."""
    if len(guards) == 1:
        try:
            return [await guards[0].run(text)]
        except Exception as exc:
            return [exc]
    return await asyncio.gather(*(g.run(text) for g in guards), return_exceptions=True)


def _in_this_turn(state: ConversationState, response_id: str) -> bool:
    """Whether the response is running, or its words are in the conversation with no user
    message after them: a verdict on an earlier turn must not cut the current one."""
    if state.active_response_id == response_id:
        return True
    seen = False
    for entry in state.history.values():
        if entry["response_id"] == response_id:
            seen = True
        elif seen and entry["role"] == "user":
            return False
    return seen
