"""Stand-ins for the plugin's asyncio fixtures when pytest-asyncio is not active.

They fail the test that requests them with what to install; tests that do not ask for them
never notice the plugin.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from agentkit.testing.pytest_plugin import INSTALL_HINT

__all__ = ["realtime_endpoint", "realtime_session", "realtime_simulator"]


def _needs_pytest_asyncio(name: str) -> NoReturn:
    pytest.fail(
        f"agentkit's {name} fixture runs on pytest-asyncio, which is not installed or is "
        f"disabled (-p no:asyncio): {INSTALL_HINT}",
        pytrace=False,
    )


@pytest.fixture
def realtime_simulator() -> NoReturn:
    """Unavailable: needs pytest-asyncio."""
    _needs_pytest_asyncio("realtime_simulator")


@pytest.fixture
def realtime_endpoint() -> NoReturn:
    """Unavailable: needs pytest-asyncio."""
    _needs_pytest_asyncio("realtime_endpoint")


@pytest.fixture
def realtime_session() -> NoReturn:
    """Unavailable: needs pytest-asyncio."""
    _needs_pytest_asyncio("realtime_session")
