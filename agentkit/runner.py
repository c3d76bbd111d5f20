"""``agentkit run``: hold a text conversation with an agent from a Python file, in a terminal.

With ``--simulate`` (or no credentials in the environment) the agent talks to the built-in
simulator, scripted by the file's module-level ``scenario``; otherwise to the endpoint that
:meth:`Endpoint.from_env` finds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from agentkit.agent import Agent
from agentkit.endpoints import Endpoint
from agentkit.errors import AgentkitError, MissingSettingError
from agentkit.events import (
    ErrorOccurred,
    ResponseFinished,
    SessionClosed,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TranscriptDelta,
)
from agentkit.session import Session
from agentkit.tools.loader import load_module

__all__ = ["RunSettings", "find_agent", "run_conversation"]


@dataclass(frozen=True)
class RunSettings:
    """What ``agentkit run`` was asked to do."""

    target: str
    says: Sequence[str] = ()
    simulate: bool = False
    turn_timeout: float = 120.0


def find_agent(target: str) -> tuple[Agent, Any]:
    """Load ``FILE[:NAME]``; return the agent and the module's ``scenario`` (or ``None``).

    Raises:
        LookupError: no agent of that name, or several agents and no name given.
    """
    path, _, name = target.partition(":") if not _is_windows_drive(target) else (target, "", "")
    module = load_module(path)
    namespace = vars(module)
    if name:
        agent = namespace.get(name)
        if not isinstance(agent, Agent):
            raise LookupError(f"{path} has no Agent named {name!r}")
        return agent, namespace.get("scenario")
    agents = {key: value for key, value in namespace.items() if isinstance(value, Agent)}
    if not agents:
        raise LookupError(f"{path} defines no module-level Agent")
    if len(agents) > 1 and "agent" not in agents:
        raise LookupError(f"{path} defines several agents ({', '.join(agents)}); name one")
    chosen = agents.get("agent") or next(iter(agents.values()))
    return chosen, namespace.get("scenario")


def _is_windows_drive(target: str) -> bool:
    return len(target) > 2 and target[1] == ":" and target[2] in "\\/"


async def run_conversation(settings: RunSettings, out: TextIO = sys.stdout) -> int:
    """Run the conversation; returns the process exit code."""
    agent, scenario = find_agent(settings.target)
    agent = agent.with_changes(modality="text", turn_detection=None)
    async with _endpoint(settings.simulate, scenario, out) as endpoint:
        async with Session(agent, endpoint) as session:
            printer = _Printer(out)
            session_events = session.events()
            if settings.says:
                for text in settings.says:
                    out.write(f"you: {text}\n")
                    await _turn(session, session_events, text, printer, settings.turn_timeout)
            else:
                await _interactive(session, session_events, printer, settings.turn_timeout)
    return 0


@asynccontextmanager
async def _endpoint(simulate: bool, scenario: Any, out: TextIO) -> AsyncIterator[Endpoint]:
    if not simulate:
        try:
            yield Endpoint.from_env()
            return
        except MissingSettingError as exc:
            out.write(f"[agentkit] no credentials found ({exc.setting}); using the simulator\n")
    from agentkit.testing import Simulator  # only needed offline

    async with Simulator(scenario) as simulator:
        out.write(f"[agentkit] simulator listening on {simulator.url}\n")
        yield Endpoint.custom(simulator.ga_url(model="simulated"), credential=simulator.api_key)


async def _interactive(
    session: Session, events: AsyncIterator[Any], printer: _Printer, timeout: float
) -> None:
    while True:
        try:
            text = await asyncio.to_thread(input, "you: ")
        except EOFError:
            return
        if text.strip() in ("", "/quit", "/exit"):
            if text.strip():
                return
            continue
        await _turn(session, events, text, printer, timeout)


async def _turn(
    session: Session, events: AsyncIterator[Any], text: str, printer: _Printer, timeout: float
) -> None:
    """Send one user message and print everything until the agent has nothing left to do."""
    await session.send_text(text)

    async def until_idle() -> None:
        async for event in events:
            printer.show(event)
            if isinstance(event, SessionClosed):
                raise AgentkitError(f"the session closed: {event.reason or event.code}")
            if isinstance(event, ResponseFinished) and session.state.idle():
                return

    try:
        await asyncio.wait_for(until_idle(), timeout)
    except asyncio.TimeoutError:
        raise AgentkitError(f"no complete answer within {timeout:g} s") from None


class _Printer:
    """Streams assistant text and shows each tool call as it starts and ends."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.speaking = False

    def show(self, event: Any) -> None:
        if isinstance(event, TranscriptDelta):
            if not self.speaking:
                self.out.write("assistant: ")
                self.speaking = True
            self.out.write(event.delta)
        else:
            self._end_line()
            line = self._describe(event)
            if line:
                self.out.write(line + "\n")
        self.out.flush()

    def _end_line(self) -> None:
        if self.speaking:
            self.out.write("\n")
            self.speaking = False

    @staticmethod
    def _describe(event: Any) -> str | None:
        if isinstance(event, ToolCallStarted):
            return f"  -> {event.name}({event.arguments})"
        if isinstance(event, ToolCallFinished):
            took = f"{event.duration_s * 1000:.0f} ms"
            if event.is_error:
                return f"  !! {event.name} failed ({event.error_type}, {took}): {event.output}"
            return f"  <- {event.name} ({took}): {event.output}"
        if isinstance(event, ToolProgress):
            return f"  .. {event.name}: {event.message}"
        if isinstance(event, ErrorOccurred):
            return f"  [error] {event.code or event.error_type}: {event.message}"
        return None
