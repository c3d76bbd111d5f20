"""The mcp extra is optional: agentkit imports without it, and agentkit.mcp says what to install."""

from __future__ import annotations

import subprocess

from tests.support import run_without


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return run_without(("mcp", "mcp_types"), code)


def test_import_agentkit_works_without_mcp() -> None:
    done = _run("import agentkit, agentkit.testing, agentkit.tools; print(agentkit.Agent)")
    assert done.returncode == 0, done.stderr
    assert "agentkit.agent.Agent" in done.stdout


def test_agentkit_mcp_without_mcp_names_the_extra() -> None:
    done = _run("import agentkit.mcp")
    assert done.returncode == 1
    assert "pip install 'agentkit-realtime[mcp]'" in done.stderr
