"""Loading an example and talking to it through a Session against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from agentkit import Agent, Endpoint, Session, SessionOptions
from agentkit.events import Event
from agentkit.testing import Simulator
from agentkit.tools.loader import load_module
from tests.support import ask, until_idle

__all__ = ["ask", "load_example", "of_type", "simulated_session", "until_idle"]

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


def of_type(events: list[Event], kind: type[Any]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]
