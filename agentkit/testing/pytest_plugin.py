"""pytest plugin: a started :class:`~agentkit.testing.Simulator` per test.

Enable it with ``pytest_plugins = ["agentkit.testing.pytest_plugin"]`` in a ``conftest.py``.
Give the fixture a scenario (or any other :class:`Simulator` option) with the marker::

    @pytest.mark.realtime_simulator(scenario=Scenario().on("hi").say("Hello!"))
    async def test_greets(realtime_simulator):
        ...

or override the ``realtime_scenario`` fixture for a whole module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from agentkit.testing.scenario import Scenario, Turn
from agentkit.testing.server import Simulator

__all__ = ["realtime_scenario", "realtime_simulator"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realtime_simulator(**options): options for the realtime_simulator fixture "
        "(scenario=..., api_key=..., cassette=..., max_session_seconds=...)",
    )


@pytest.fixture
def realtime_scenario() -> Scenario | Turn | None:
    """The scenario the simulator runs when the marker names none (override it to share one)."""
    return None


@pytest_asyncio.fixture
async def realtime_simulator(
    request: pytest.FixtureRequest, realtime_scenario: Scenario | Turn | None
) -> AsyncIterator[Simulator]:
    """A started simulator on 127.0.0.1 (random port), stopped after the test."""
    options: dict[str, Any] = {"scenario": realtime_scenario}
    marker = request.node.get_closest_marker("realtime_simulator")
    if marker is not None:
        options.update(marker.kwargs)
    async with Simulator(**options) as simulator:
        yield simulator
