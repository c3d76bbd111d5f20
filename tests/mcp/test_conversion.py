"""What an MCP server's listing becomes: names, parameters, drops, outputs and clashes."""

from __future__ import annotations

import json
import sys
from typing import Any

import mcp.types as mcp_types
import pytest

from agentkit import ToolContext, tool
from agentkit.errors import ToolDefinitionError
from agentkit.mcp import MCPServerStdio, MCPTool, _progress_reporter, _to_result, gather_tools


def spec(name: str, schema: dict[str, Any], description: str = "d") -> mcp_types.Tool:
    return mcp_types.Tool(name=name, description=description, input_schema=schema)


def convert(*specs: mcp_types.Tool, prefix: str | None = None) -> tuple[list[MCPTool], Any]:
    server = MCPServerStdio(sys.executable, ["unused.py"], prefix=prefix)
    tools, dropped = server._convert(specs)
    return tools, dropped


NESTED = {
    "type": "object",
    "title": "Args",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "properties": {"where": {"$ref": "#/$defs/Place"}, "when": {"type": "string"}},
    "required": ["where"],
    "additionalProperties": False,
    "$defs": {
        "Place": {
            "type": "object",
            "title": "Place",
            "properties": {"city": {"type": "string", "title": "City"}},
            "required": ["city"],
        }
    },
}


def test_refs_are_inlined_and_unknown_keywords_dropped() -> None:
    ((made,), dropped) = convert(spec("plan", NESTED))
    assert dropped == {}
    assert made.parameters == {
        "type": "object",
        "properties": {
            "where": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
            "when": {"type": "string"},
        },
        "required": ["where"],
        "additionalProperties": False,
    }
    assert made.input_schema == NESTED  # validation uses the server's own schema


def test_names_get_the_prefix_and_lose_characters_the_api_refuses() -> None:
    tools, _ = convert(spec("files.read", {"type": "object"}), prefix="fs")
    assert [(t.name, t.remote_name) for t in tools] == [("fs_files_read", "files.read")]
    assert tools[0].schema()["name"] == "fs_files_read"


def test_schemas_the_api_cannot_take_are_dropped_with_the_reason() -> None:
    recursive = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
    }
    dangling = {"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}}
    tools, dropped = convert(
        spec("ok", {"type": "object"}),
        spec("tree", recursive),
        spec("dangling", dangling),
        spec("a" * 70, {"type": "object"}),
        spec("ok.", {"type": "object"}),
        spec("ok_", {"type": "object"}),
    )
    assert [t.name for t in tools] == ["ok", "ok_"]
    assert "recursive" in dropped["tree"]
    assert "Missing" in dropped["dangling"]
    assert "longer than 64" in dropped["a" * 70]
    assert "also named 'ok_'" in dropped["ok_"]  # "ok." became "ok_" first


async def test_arguments_are_checked_against_the_servers_schema() -> None:
    ((made,), _) = convert(spec("plan", NESTED))
    bad = await made.invoke(json.dumps({"where": {"city": 3}}))
    assert bad.error_type == "invalid_arguments"
    assert "where.city: 3 is not of type 'string'" in bad.output
    extra = await made.invoke(json.dumps({"where": {"city": "Oslo"}, "why": 1}))
    assert extra.error_type == "invalid_arguments" and "why" in extra.output
    assert (await made.invoke("[1]")).error_type == "invalid_arguments"
    assert (await made.invoke("{oops")).error_type == "invalid_arguments"


def test_outputs_text_first_then_structured_content_and_errors() -> None:
    text = mcp_types.TextContent(type="text", text="hello")
    image = mcp_types.ImageContent(type="image", data="AAAA", mime_type="image/png")
    plain = _to_result("t", mcp_types.CallToolResult(content=[text, image]))
    assert plain.output == "hello\n[image image/png omitted: the realtime model takes text]"
    structured = mcp_types.CallToolResult(content=[], structured_content={"n": 1})
    assert _to_result("t", structured).output == '{"n":1}'
    pretty = mcp_types.TextContent(type="text", text='{\n  "n": 1\n}')
    both = mcp_types.CallToolResult(content=[pretty], structured_content={"n": 1})
    assert _to_result("t", both).output == '{"n":1}'  # the same data in fewer tokens
    other = mcp_types.CallToolResult(content=[text], structured_content={"n": 1})
    assert _to_result("t", other).output == "hello"  # the text says something else: kept
    failed = _to_result("t", mcp_types.CallToolResult(content=[text], is_error=True))
    assert (
        failed.is_error and failed.error_type == "tool_error" and "t failed: hello" in failed.output
    )


async def test_gather_tools_refuses_a_clash_with_a_clear_error() -> None:
    @tool
    def lookup(city: str) -> str:
        """Local."""
        return city

    server = MCPServerStdio(sys.executable, ["unused.py"], name="weather")
    await server._adopt([spec("lookup", {"type": "object"})])  # listed: no connection needed
    with pytest.raises(ToolDefinitionError, match=r"offered by the local tools and by MCP server"):
        await gather_tools([lookup], server)


async def test_progress_without_a_message_reads_as_a_count() -> None:
    heard: list[str] = []

    async def listen(message: str) -> None:
        heard.append(message)

    report = _progress_reporter(ToolContext(call_id="c", tool_name="t", progress_callback=listen))
    await report(1, 4, "reading the file")
    await report(3, 10, None)
    await report(7, None, None)
    assert heard == ["reading the file", "3 of 10", "7"]
