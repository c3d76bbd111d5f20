"""Fixtures: a simulator scripted to call the example's tool, and the example app in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentkit import Endpoint
from agentkit.testing import Scenario, Simulator, ToolOutputs
from examples.webapp.app import create_app
from tests.browser.server import serve

ORDER = {"order_id": "A1001", "status": "shipped", "eta": "Thursday"}
"""What the example's check_order tool returns for A1001 (it runs in the app, not here)."""

ANSWER = "Order A1001 is shipped and should arrive Thursday."


def _answer(outputs: ToolOutputs) -> str:
    order = outputs["check_order"]  # the tool's output as the simulated model received it
    return f"Order {order['order_id']} is {order['status']} and should arrive {order['eta']}."


@pytest.fixture
def scenario() -> Scenario:
    """Whatever the user says, the model calls check_order, then reads the result out."""
    return Scenario().on_audio().call("check_order", order_id="A1001").say(_answer).scenario


@pytest.fixture
async def simulator(scenario: Scenario) -> AsyncIterator[Simulator]:
    async with Simulator(scenario) as simulator:
        yield simulator


@pytest.fixture
async def service(simulator: Simulator) -> AsyncIterator[str]:
    """The example app, served by uvicorn on 127.0.0.1, relaying to the simulator."""
    endpoint = Endpoint.custom(simulator.ga_url(), credential=simulator.api_key)
    async with serve(create_app(endpoint)) as url:
        yield url
