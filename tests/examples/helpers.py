"""Loading an example and talking to it through a Session against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from agentkit import Agent, Endpoint, Session, SessionOptions
from agentkit.events import Event, ResponseFinished, SessionClosed
from agentkit.testing import Simulator
from agentkit.tools.loader import load_module
from tests.support import TIMEOUT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """A fresh import of ``examples/<name>.py`` (module-level state is not shared by tests)."""
    return load_module(EXAMPLES / f"{name}.py")


@asynccontextmanager
async def simulated_session(
    example: ModuleType,
    *,
    agent: Agent | None = None,
    deps: Any = None,
    options: SessionOptions | None = None,
) -> AsyncIterator[tuple[Session, Simulator]]:
    """A session with the example's agent against the simulator running its scenario."""
    async with Simulator(example.scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        session = Session(agent or example.agent, endpoint, deps=deps, options=options)
        async with session:
            yield session, sim


async def until_idle(session: Session) -> list[Event]:
    """Every event until a response finishes with nothing left to do (no bare waits)."""

    async def collect() -> list[Event]:
        seen: list[Event] = []
        async for event in session:
            seen.append(event)
            if isinstance(event, SessionClosed):
                raise AssertionError(f"session closed: {event}")
            if isinstance(event, ResponseFinished) and session.idle:
                return seen
        return seen

    return await asyncio.wait_for(collect(), TIMEOUT)


async def ask(session: Session, text: str) -> list[Event]:
    await session.send_text(text)
    return await until_idle(session)


def of_type(events: list[Event], kind: type[Any]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]
