"""Entra ID with no sign-in anywhere: one actionable line, no azure-identity noise, no traffic.

The command runs in a child process, because the noise reached stderr through Python's
last-resort handler, which pytest's own logging handler would hide in-process. The child gets
an environment where every credential of ``DefaultAzureCredential`` is unavailable at once,
and a guard that refuses (and reports) any connection or name lookup off this machine.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from agentkit.testing import Simulator
from tests.cli.helpers import WEATHER
from tests.connection.offline_identity import GUARD_SOURCE, offline_environment
from tests.support import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
ADVICE = (
    "agentkit: CredentialError: DefaultAzureCredential found no usable sign-in for Microsoft "
    "Entra ID. Set AZURE_OPENAI_API_KEY to use the resource's key, or sign in with `az login`, "
    'or run where a managed identity is assigned; the identity needs the "Cognitive Services '
    'OpenAI User" role on the resource.'
)


async def run_offline(tmp_path: Path, *argv: str) -> tuple[int, str, str, float]:
    code = f"{GUARD_SOURCE}\nfrom agentkit.cli import main\nsys.exit(main({list(argv)!r}))\n"
    started = time.monotonic()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        cwd=ROOT,
        env=offline_environment(tmp_path) | {"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), TIMEOUT * 4)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode(), time.monotonic() - started


async def test_no_sign_in_gives_one_actionable_line(tmp_path: Path) -> None:
    async with Simulator() as sim:
        endpoint = sim.url.replace("ws://", "http://")
        argv = ["run", WEATHER, "--endpoint", endpoint, "--deployment", "rt", "--say", "hi"]
        code, out, err, took = await run_offline(tmp_path, *argv)
        assert sim.received == []  # no token, no handshake
    assert code == 1
    assert out == f"[agentkit] connecting to {sim.url}/openai/v1/realtime?model=rt\n"
    assert err == f"{ADVICE} (--verbose shows what each credential answered)\n"
    assert took < TIMEOUT * 2  # every credential was unavailable at once


async def test_verbose_shows_what_each_credential_answered(tmp_path: Path) -> None:
    async with Simulator() as sim:
        endpoint = sim.url.replace("ws://", "http://")
        argv = ["run", WEATHER, "--endpoint", endpoint, "--deployment", "rt", "--verbose"]
        code, _, err, _ = await run_offline(tmp_path, *argv, "--say", "hi")
    assert code == 1
    assert err.endswith(f"{ADVICE}\n")
    assert "AzureCliCredential: Azure CLI not found on path" in err
    assert "Traceback (most recent call last):" in err
    assert "NETWORK ATTEMPT" not in err
