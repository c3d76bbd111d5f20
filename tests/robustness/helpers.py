"""A session against the simulator, and a way to ask it one question."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from agentkit import Agent, Endpoint, Session, SessionOptions
from agentkit.events import ErrorOccurred, Event, ResponseFinished, ToolCallFinished
from agentkit.testing import Scenario, Simulator
from tests.support import ask

__all__ = ["ask", "connected", "errors", "final_text", "tool_results"]


@asynccontextmanager
async def connected(
    scenario: Scenario,
    tools: Sequence[Any] = (),
    options: SessionOptions | None = None,
) -> AsyncIterator[tuple[Simulator, Session]]:
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=sim.api_key)
        agent = Agent(instructions="x", tools=list(tools), modality="text")
        async with Session(agent, endpoint, options=options) as session:
            yield sim, session


def final_text(events: Sequence[Event]) -> str:
    return [e for e in events if isinstance(e, ResponseFinished)][-1].text


def tool_results(events: Sequence[Event]) -> list[ToolCallFinished]:
    return [e for e in events if isinstance(e, ToolCallFinished)]


def errors(events: Sequence[Event]) -> list[ErrorOccurred]:
    return [e for e in events if isinstance(e, ErrorOccurred)]
