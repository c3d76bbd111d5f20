"""Embedded in a service: cancelling the task that holds a session shuts it down cleanly."""

from __future__ import annotations

import asyncio

import pytest

from agentkit import Agent, Endpoint, Session
from agentkit.testing import Scenario, Simulator
from tests.support import TIMEOUT


async def test_cancelling_the_owning_task_closes_the_session_and_its_socket() -> None:
    opened: asyncio.Future[Session] = asyncio.get_running_loop().create_future()

    async def handler(endpoint: Endpoint) -> None:
        async with Session(Agent(instructions="x", modality="text"), endpoint) as session:
            opened.set_result(session)
            await asyncio.Event().wait()  # serve until the service cancels us

    async with Simulator(Scenario()) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        task = asyncio.create_task(handler(endpoint))
        session = await asyncio.wait_for(opened, TIMEOUT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)
        await sim.connections[0].wait_closed(TIMEOUT)
    assert session.closed
    assert len(session._tasks) == 0  # no task of the session outlives it
    assert sim.connections[0].close_code == 1000
