"""Running ``agentkit`` in-process beside a simulator, and a clean environment for it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agentkit.cli import main
from agentkit.endpoints import configured_variables
from tests.support import TIMEOUT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WEATHER = str(EXAMPLES / "weather.py")
KEY = "azure-key-7f3a9c2e51"


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable that configures an endpoint (or looks like one), and AGENTKIT_LOG."""
    for name in [*configured_variables(), "AGENTKIT_LOG"]:
        monkeypatch.delenv(name, raising=False)


async def run_in_thread(argv: Sequence[str]) -> int:
    """``main`` runs its own event loop; beside a simulator in the test's loop it needs a thread."""
    return await asyncio.wait_for(asyncio.to_thread(main, list(argv)), TIMEOUT)
