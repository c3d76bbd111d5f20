"""pytest plugin: a started :class:`~agentkit.testing.Simulator` and a connected session per test.

Installing ``agentkit-realtime`` registers this module as a ``pytest11`` entry point, so pytest
loads it in every run of every project in that environment, with nothing to add to a
``conftest.py``. It therefore imports only pytest here; the fixtures that need asyncio come from
:mod:`agentkit.testing._pytest_fixtures`, registered when pytest-asyncio is active (the
``agentkit-realtime[testing]`` extra installs it). Without it, requesting one of them fails with a
message naming the extra, and every other test runs as before.

Fixtures:
    realtime_scenario: what the simulator answers; override it for a module (default ``None``).
    realtime_simulator: a started simulator on 127.0.0.1; options from the
        ``@pytest.mark.realtime_simulator(...)`` marker.
    realtime_endpoint: the :class:`~agentkit.Endpoint` of that simulator, with its key.
    realtime_agent: the agent under test; override it (the default raises).
    realtime_session: a connected :class:`~agentkit.Session` of ``realtime_agent`` on the
        simulator; ``Session`` keywords (``deps``, ``options``) from the
        ``@pytest.mark.realtime_session(...)`` marker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agentkit import Agent
    from agentkit.testing.scenario import Scenario, Turn

__all__ = ["realtime_agent", "realtime_scenario"]

INSTALL_HINT = 'pip install "agentkit-realtime[testing]"'
_ASYNC_FIXTURES = "agentkit.testing._pytest_fixtures"
_MISSING_FIXTURES = "agentkit.testing._pytest_no_asyncio"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realtime_simulator(**options): Simulator options for the realtime_simulator fixture "
        "(scenario=..., api_key=..., cassette=..., max_session_seconds=...)",
    )
    config.addinivalue_line(
        "markers",
        "realtime_session(**options): Session keywords for the realtime_session fixture "
        "(deps=..., options=SessionOptions(...))",
    )
    manager = config.pluginmanager
    if manager.get_plugin(_ASYNC_FIXTURES) or manager.get_plugin(_MISSING_FIXTURES):
        return
    # "asyncio" is the name pytest-asyncio's entry point registers; `-p no:asyncio` blocks it.
    if manager.has_plugin("asyncio"):
        manager.import_plugin(_ASYNC_FIXTURES)
    else:
        manager.import_plugin(_MISSING_FIXTURES)


@pytest.fixture
def realtime_scenario() -> Scenario | Turn | None:
    """The scenario the simulator runs when the marker names none (override it to share one)."""
    return None


@pytest.fixture
def realtime_agent() -> Agent:
    """The agent that ``realtime_session`` connects: override this fixture to give yours."""
    pytest.fail(
        "the realtime_session fixture needs an agent: define a `realtime_agent` fixture "
        "returning your agentkit.Agent (in the test module or a conftest.py)",
        pytrace=False,
    )
