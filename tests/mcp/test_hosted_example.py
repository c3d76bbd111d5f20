"""examples/hosted_mcp.py: the service calls the notes server (`agentkit run`, Python)."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp")

from agentkit.cli import main
from tests.examples.helpers import EXAMPLES, load_example


def test_agentkit_run_lets_the_service_call_the_notes_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", str(EXAMPLES / "hosted_mcp.py"), "--simulate", "--say", "Remember milk"]
    assert main([*argv, "--say", "What are my notes?"]) == 0
    out = capsys.readouterr().out
    assert '  ?? notes.add_note({"text": "buy milk"}): approved' in out
    assert "assistant: Noted: saved note 1." in out
    assert "assistant: You have 1 notes: buy milk." in out  # the same server process
    assert "demo-token" not in out


async def test_from_python_the_application_sees_what_the_service_did(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("hosted_mcp")
    await example.main()
    out = capsys.readouterr().out
    assert "  .. notes: tools completed: add_note, list_notes\n" in out
    assert "  .. answered add_note: yes" in out
    assert '  -> notes.add_note({"text": "buy milk"}): saved note 1' in out
    assert "  -> notes.list_notes({}): buy milk" in out
    assert out.endswith("assistant: You have 1 notes: buy milk.\n")
