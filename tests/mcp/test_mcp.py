"""MCP servers as tool sources, over real sockets: the simulated model calls their tools."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import stdio_client

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.approval import Approval, ToolCallRequest
from agentkit.errors import ConnectionFailedError
from agentkit.events import Reconnected, ToolCallFinished, ToolProgress
from agentkit.mcp import MCPServer, MCPServerHTTP, MCPServerStdio, _closed_already, gather_tools
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator, silence, speech
from tests.dispatch.loopback import Live, live
from tests.mcp.servers import STDIO_SCRIPT, build, free_port, serve_http
from tests.support import TIMEOUT, until_event

FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, max_seconds=TIMEOUT)


@tool
async def local_time(city: str) -> str:
    """The local time in a city."""
    await asyncio.sleep(0)
    return f"12:00 in {city}"


def stdio(name: str, marks: Path | None = None, **options: Any) -> MCPServerStdio:
    args = [str(STDIO_SCRIPT), name, *([str(marks)] if marks else [])]
    return MCPServerStdio(sys.executable, args, **options)


@asynccontextmanager
async def started(kind: str, name: str, marks: Path, **options: Any) -> AsyncIterator[MCPServer]:
    """A test server over ``kind`` ("stdio" or "http"), connected."""
    if kind == "stdio":
        async with stdio(name, marks, **options) as server:
            yield server
        return
    async with serve_http(build(name, marks)) as url, MCPServerHTTP(url, **options) as server:
        yield server


class LegacyHTTP(MCPServerHTTP):
    """Speaks the handshake-era protocol, as servers on older SDKs do: list changes come as
    notifications/tools/list_changed instead of on a subscriptions/listen stream."""

    def _connect(self) -> Client:
        return Client(self.url, message_handler=self._on_message, mode="legacy")


class LegacyStdio(MCPServerStdio):
    """A handshake-era stdio connection: no listen stream tells of the process's end."""

    def _connect(self) -> Client:
        transport = stdio_client(self.params, errlog=sys.__stderr__ or sys.stderr)
        return Client(transport, message_handler=self._on_message, mode="legacy")


def text_agent(tools: Any) -> Agent:
    return Agent(instructions="x", tools=tools, modality="text", turn_detection=None)


def declared(conn: Live) -> list[list[str]]:
    """The tool names of every session.update the client sent, in order."""
    updates = conn.client("session.update")
    return [[t["name"] for t in u["session"].get("tools", [])] for u in updates]


async def finished(conn: Live, count: int, timeout: float = TIMEOUT) -> list[ToolCallFinished]:
    def found() -> list[ToolCallFinished] | None:
        done = conn.events.of(ToolCallFinished)
        return done if len(done) >= count else None

    return await conn.events.until(found, timeout)


async def test_stdio_tools_run_in_parallel_with_a_local_tool() -> None:
    scenario = (
        Scenario()
        .on("weather")
        .call("lookup", city="Oslo", days=2)
        .call("local_time", city="Oslo")
        .say("Sunny.")
    )
    async with stdio("alpha") as server:
        agent = text_agent(await gather_tools([local_time], server))
        async with live(scenario, agent) as conn:
            await conn.session.send_text("weather in Oslo")
            done = {f.name: f for f in await finished(conn, 2)}
            await conn.assert_one_output_per_call()
    assert done["lookup"].output == "alpha: Oslo sunny for 2 day(s)"
    assert done["local_time"].output == "12:00 in Oslo"
    (tools,) = declared(conn)
    assert tools == [
        *("local_time", "lookup", "count", "wait_forever", "grow", "exit_later", "crash")
    ]
    (sent,) = conn.client("session.update")
    lookup = next(t for t in sent["session"]["tools"] if t["name"] == "lookup")
    assert lookup["parameters"]["properties"]["days"] == {"default": 1, "type": "integer"}
    assert "title" not in lookup["parameters"]  # keywords the realtime API does not take


async def test_http_tools_with_a_prefix_report_progress() -> None:
    scenario = (
        Scenario().on("count").call("b_count", steps=3).call("local_time", city="Rome").say("Ok.")
    )
    async with serve_http(build("beta")) as url, MCPServerHTTP(url, prefix="b") as server:
        agent = text_agent(await gather_tools([local_time], server))
        async with live(scenario, agent) as conn:
            await conn.session.send_text("count please")
            done = {f.name: f for f in await finished(conn, 2)}
    assert done["b_count"].output == "counted to 3" and not done["b_count"].is_error
    assert done["local_time"].output == "12:00 in Rome"
    progress = [p.message for p in conn.events.of(ToolProgress)]
    assert progress == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]


async def test_http_headers_reach_the_server_and_stay_out_of_reprs() -> None:
    seen: list[dict[str, str]] = []
    secret = {"Authorization": "Bearer sk-test-123"}
    async with serve_http(build("beta"), seen) as url:
        async with MCPServerHTTP(url, headers=secret) as server:
            (lookup, *_) = await server.tools()
            result = await lookup.invoke('{"city": "Oslo"}')
    assert result.output == "beta: Oslo sunny for 1 day(s)"
    assert seen and all(h.get("authorization") == "Bearer sk-test-123" for h in seen)
    assert "sk-test" not in repr(server) + repr(lookup)


async def test_invalid_arguments_are_refused_before_the_server_is_asked() -> None:
    scenario = Scenario().on("bad").call("lookup", city=42).say("Oops.")
    async with stdio("alpha") as server:
        async with live(scenario, text_agent(await server.tools())) as conn:
            await conn.session.send_text("bad call")
            (done,) = await finished(conn, 1)
    assert done.error_type == "invalid_arguments"
    assert "city: 42 is not of type 'string'" in done.output


@pytest.mark.parametrize("era", ["2026-07-28", "legacy"])
async def test_list_changed_sends_a_session_update_with_the_new_tool(era: str) -> None:
    scenario = (
        Scenario()
        .on("grow")
        .call("grow")
        .say("Grown.")
        .on("shout")
        .call("shout", text="hi")
        .say("Done.")
    )
    server_type = MCPServerHTTP if era != "legacy" else LegacyHTTP
    async with serve_http(build("beta")) as url, server_type(url) as server:
        async with live(scenario, text_agent(await server.tools())) as conn:
            server.keep_updated(conn.session)
            await conn.session.send_text("grow please")
            await conn.wait_client("session.update", count=2)
            await conn.events.wait_for(ToolCallFinished)
            await conn.session.send_text("shout please")
            done = await finished(conn, 2)
        version = server.protocol_version
    first, second = declared(conn)
    assert "shout" not in first and second == [*first, "shout"]
    assert [d.output for d in done] == ["added shout", "HI!"]
    assert "shout" in conn.session.agent.toolset
    assert version == (era if era != "legacy" else "2025-11-25")
    assert server.protocol_version is None  # closed


async def test_one_server_shared_by_two_sessions_updates_both() -> None:
    scenario = Scenario().on("grow").call("grow").say("Grown.")
    async with serve_http(build("beta")) as url, MCPServerHTTP(url) as server:
        agent = text_agent(await server.tools())
        async with live(scenario, agent) as first, live(scenario, agent) as second:
            server.keep_updated(first.session)
            server.keep_updated(second.session)
            await first.session.send_text("grow please")
            await first.wait_client("session.update", count=2)
            await second.wait_client("session.update", count=2)
    assert declared(first)[-1] == declared(second)[-1] == [*declared(first)[0], "shout"]
    assert "shout" in second.session.agent.toolset and "shout" not in agent.toolset


@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_barge_in_cancels_the_mcp_request(kind: str, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    scenario = Scenario().on("wait").call("wait_forever").say("Done.").on_audio().say("Stopped.")
    options = SessionOptions(interrupt_policy="cancel")
    async with started(kind, "alpha", marks) as server:
        agent = Agent(instructions="x", tools=await server.tools())
        async with live(scenario, agent, options=options) as conn:
            await conn.session.send_text("wait please")
            await _until_marked(marks, "started wait_forever")
            await conn.session.send_audio(speech(400) + silence(700))
            (done,) = await finished(conn, 1)
            await _until_marked(marks, "cancelled wait_forever")
    assert done.error_type == "cancelled"


async def test_a_call_past_the_servers_timeout_is_cancelled_on_the_server(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    scenario = Scenario().on("wait").call("wait_forever").say("Too slow.")
    async with started("http", "beta", marks, timeout=1.0) as server:
        async with live(scenario, text_agent(await server.tools())) as conn:
            await conn.session.send_text("wait please")
            await _until_marked(marks, "started wait_forever")
            (done,) = await finished(conn, 1)
            await _until_marked(marks, "cancelled wait_forever")
    assert done.error_type == "timeout" and "within 1 s" in done.output


async def test_the_approval_hook_decides_before_the_server_is_asked(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    scenario = Scenario().on("both").call("wait_forever").call("lookup", city="Oslo").say("Ok.")

    def approve(request: ToolCallRequest) -> Approval:
        return Approval.deny("not now") if request.name == "wait_forever" else Approval.allow()

    options = SessionOptions(approve=approve)
    async with started("http", "beta", marks) as server:
        async with live(scenario, text_agent(await server.tools()), options=options) as conn:
            await conn.session.send_text("both please")
            done = {f.name: f for f in await finished(conn, 2)}
    assert done["wait_forever"].error_type == "denied" and "not now" in done["wait_forever"].output
    assert done["lookup"].output == "beta: Oslo sunny for 1 day(s)"
    assert not marks.exists()  # the denied call never reached the server


async def test_calls_after_close_are_answered_with_an_error(tmp_path: Path) -> None:
    async with started("http", "beta", tmp_path / "marks") as server:
        (lookup, *_) = await server.tools()
    result = await lookup.invoke('{"city": "Oslo"}')
    assert result.error_type == "tool_error" and "it was closed" in result.output


async def test_a_dropped_socket_mid_call_still_gets_the_output() -> None:
    scenario = Scenario().on("count").call("count", steps=40).say("Counted.")
    async with stdio("alpha") as server:
        async with Simulator(scenario) as sim:
            endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=sim.api_key)
            options = SessionOptions(reconnect=FAST, speak_progress=False)
            agent = text_agent(await server.tools())
            async with Session(agent, endpoint, options=options) as session:
                await session.send_text("count please")
                await until_event(session, ToolProgress)
                await sim.close_connections(1011, "dropped mid-call")
                await until_event(session, Reconnected)
                events = await until_event(session, ToolCallFinished)
    (done,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert done.output == "counted to 40"
    per_connection = [
        [e["item"]["output"] for e in c.received if e["type"] == "conversation.item.create"
         and e["item"]["type"] == "function_call_output" and e["item"]["call_id"] == done.call_id]
        for c in sim.connections
    ]  # fmt: skip
    assert per_connection == [[], ["counted to 40"]]  # once, on the new socket


async def test_a_crashed_stdio_server_answers_its_call_and_is_restarted(tmp_path: Path) -> None:
    scenario = (
        Scenario()
        .on("crash")
        .call("crash")
        .say("It crashed.")
        .on("weather")
        .call("lookup", city="Oslo")
        .say("Sunny.")
    )
    async with stdio("alpha", tmp_path / "marks") as server:
        async with live(scenario, text_agent(await server.tools())) as conn:
            await conn.session.send_text("crash please")
            await conn.events.wait_for(ToolCallFinished)
            await conn.session.send_text("weather please")
            # Waits for a new server process: importing the mcp SDK alone takes seconds.
            crashed, answered = await finished(conn, 2, timeout=6 * TIMEOUT)
    assert crashed.is_error and "Connection closed" in crashed.output
    assert answered.output == "alpha: Oslo sunny for 1 day(s)"


def _marked(marks: Path, line: str) -> bool:
    return marks.exists() and line in marks.read_text().splitlines()


async def test_a_server_that_exited_between_calls_is_restarted_before_the_next(
    tmp_path: Path,
) -> None:
    marks = tmp_path / "marks"
    server = LegacyStdio(sys.executable, [str(STDIO_SCRIPT), "alpha", str(marks)])
    async with server:
        tools = {t.name: t for t in await server.tools()}
        assert (await tools["exit_later"].invoke("{}")).output == "bye"
        await _until_marked(marks, "exited")
        await _until(lambda: server._client is not None and _closed_already(server._client))
        answer = await asyncio.wait_for(tools["lookup"].invoke('{"city": "Oslo"}'), 6 * TIMEOUT)
    assert answer.output == "alpha: Oslo sunny for 1 day(s)"  # no call lost to the dead process


@pytest.mark.parametrize("restart", [True, False])
async def test_an_http_server_that_went_away_is_reconnected_once_it_is_back(
    restart: bool,
) -> None:
    port = free_port()
    async with serve_http(build("beta"), port=port) as url:
        server = MCPServerHTTP(url, restart=restart)
        await server.start()
    try:
        (lookup, *_) = await server.tools()
        down = await lookup.invoke('{"city": "Oslo"}')
        async with serve_http(build("beta"), port=port):
            back = await asyncio.wait_for(lookup.invoke('{"city": "Rome"}'), 2 * TIMEOUT)
    finally:
        await server.close()
    assert down.is_error and ("Connection closed" in down.output or "not running" in down.output)
    assert back.output == "beta: Rome sunny for 1 day(s)"


async def _until(condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():  # noqa: ASYNC110 - the SDK offers no event for it
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), TIMEOUT)


async def _until_marked(marks: Path, line: str) -> None:
    """Wait for a line of the marks file (another process writes it: no event to wait on)."""

    async def wait() -> None:
        while not _marked(marks, line):  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), TIMEOUT)


async def test_a_server_that_cannot_start_is_reported_at_once(tmp_path: Path) -> None:
    missing = MCPServerStdio(sys.executable, [str(tmp_path / "missing.py")], name="missing")
    with pytest.raises(ConnectionFailedError, match="MCP server 'missing' did not start"):
        await asyncio.wait_for(missing.start(), TIMEOUT)
