"""examples/mcp_tools.py: an MCP server's tools beside a local one (`agentkit run`, Python)."""

from __future__ import annotations

import pytest

from agentkit.cli import main
from tests.examples.helpers import EXAMPLES, load_example


def test_agentkit_run_calls_the_servers_tools(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", str(EXAMPLES / "mcp_tools.py"), "--simulate", "--say", "Remember milk"]
    assert main([*argv, "--say", "What are my notes?"]) == 0
    out = capsys.readouterr().out
    assert '  -> add_note({"text": "buy milk"})' in out
    assert "  .. add_note: saving the note" in out
    assert "add_note (" in out and "): saved note 1" in out
    assert "): buy milk\n" in out  # list_notes, on the same server process
    assert "you have 1 notes: buy milk." in out


async def test_list_changed_adds_a_tool_the_model_then_calls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("mcp_tools")
    await example.main()
    out = capsys.readouterr().out
    assert "  -> enable_search({}): search is on" in out
    assert '  -> search_notes({"word": "milk"}): buy milk' in out
    assert out.endswith("assistant: Found: buy milk.\n")
