"""The plugin's asyncio fixtures, registered by :mod:`agentkit.testing.pytest_plugin`.

Only imported when pytest-asyncio is active. ``pytest_asyncio.fixture`` makes them work in its
strict mode (the default) as well as in auto mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from agentkit import Agent, Endpoint, Session
from agentkit.testing.scenario import Scenario, Turn
from agentkit.testing.server import Simulator

__all__ = ["realtime_endpoint", "realtime_session", "realtime_simulator"]


def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


@pytest_asyncio.fixture
async def realtime_simulator(
    request: pytest.FixtureRequest, realtime_scenario: Scenario | Turn | None
) -> AsyncIterator[Simulator]:
    """A started simulator on 127.0.0.1 (random port), stopped after the test."""
    options: dict[str, Any] = {"scenario": realtime_scenario}
    options.update(_marker_options(request, "realtime_simulator"))
    async with Simulator(**options) as simulator:
        yield simulator


@pytest.fixture
def realtime_endpoint(realtime_simulator: Simulator) -> Endpoint:
    """The simulator's GA endpoint, with the key it accepts (if it checks one)."""
    return Endpoint.custom(realtime_simulator.ga_url(), credential=realtime_simulator.api_key)


@pytest_asyncio.fixture
async def realtime_session(
    request: pytest.FixtureRequest, realtime_agent: Agent, realtime_endpoint: Endpoint
) -> AsyncIterator[Session]:
    """A started session of ``realtime_agent`` on the simulator, closed after the test."""
    options = _marker_options(request, "realtime_session")
    async with Session(realtime_agent, realtime_endpoint, **options) as session:
        yield session
