"""ToolResult and the shared error-output format."""

from __future__ import annotations

import dataclasses

import pytest

from agentkit.tools import ToolResult, error_output


def test_error_output_is_compact_json() -> None:
    assert error_output("timeout", "get_weather took longer than 5 s") == (
        '{"error":{"type":"timeout","message":"get_weather took longer than 5 s"}}'
    )


def test_error_output_keeps_unicode_and_escapes_quotes() -> None:
    assert error_output("tool_error", 'café "x"') == (
        '{"error":{"type":"tool_error","message":"café \\"x\\""}}'
    )


def test_error_result_helper() -> None:
    result = ToolResult.error("nope", error_type="unknown_tool", respond=False)
    assert result == ToolResult(
        output='{"error":{"type":"unknown_tool","message":"nope"}}',
        is_error=True,
        error_type="unknown_tool",
        respond=False,
    )
    assert ToolResult.error("x").error_type == "tool_error"


def test_defaults_and_immutability() -> None:
    result = ToolResult("ok")
    assert (result.is_error, result.error_type, result.respond) == (False, None, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.output = "changed"  # type: ignore[misc]
