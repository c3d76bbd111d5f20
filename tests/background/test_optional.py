"""The celery extra is optional: agentkit and agentkit.background import without it, and the
backends say what to install."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import run_without


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return run_without(("celery", "redis"), code)


def test_agentkit_and_the_in_memory_store_work_without_the_extra() -> None:
    code = (
        "import asyncio, agentkit, agentkit.background\n"
        "store = agentkit.InMemorySessionStore()\n"
        "lease = asyncio.run(store.acquire('k', 'me', 5))\n"
        "print(lease.token)"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"


@pytest.mark.parametrize("module", ["agentkit.background.celery", "agentkit.background.redis"])
def test_a_backend_without_the_extra_names_it(module: str) -> None:
    done = _run(f"import {module}")
    assert done.returncode == 1
    assert 'pip install "agentkit-realtime[celery]"' in done.stderr
