"""MCP tool sources surviving a dropped realtime socket, over real sockets: calls on a stdio and
an HTTP server (alone, and in parallel with a local tool), a list-changed refresh (before, while
and after the socket drops), a call cancelled by barge-in, progress reported with no socket up,
and a hosted MCP approval denied across a drop. Each call runs once on its server and gets
exactly one output, on the socket that is live when it ends."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from agentkit import Agent, SessionOptions, tool
from agentkit.approval import Approval, ToolCallRequest
from agentkit.events import (
    HostedToolCallFinished,
    Reconnected,
    Reconnecting,
    ResponseFinished,
    ToolCallFinished,
    ToolProgress,
)
from agentkit.mcp import MCPServer, MCPServerHTTP, MCPServerStdio, gather_tools
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, silence, speech
from tests.dispatch.loopback import Live, live
from tests.mcp.servers import STDIO_SCRIPT, build, marks_of, release, serve_http, tick
from tests.support import TIMEOUT, eventually

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05, max_seconds=2 * TIMEOUT)
# Retries for as long as a test keeps the simulator offline.
PATIENT = ReconnectPolicy(
    max_attempts=10_000, initial_delay=0.02, max_delay=0.05, max_seconds=4 * TIMEOUT
)
# Where the socket drops: right after the response announced its calls (the response is cut
# short), or right after the response ended (the calls are running).
DROPS = {
    "mid-response": ("response.output_item.done", 1),
    "after-response": ("response.done", 1),
}


@asynccontextmanager
async def gated(kind: str, name: str, marks: Path, **options: Any) -> AsyncIterator[MCPServer]:
    """A test server with the ``hold`` tool over ``kind`` ("stdio" or "http"), connected."""
    if kind == "stdio":
        args = [str(STDIO_SCRIPT), name, str(marks), "gated"]
        async with MCPServerStdio(sys.executable, args, **options) as server:
            yield server
        return
    async with serve_http(build(name, marks, gated=True)) as url:
        async with MCPServerHTTP(url, **options) as server:
            yield server


def outputs_per_connection(t: Live) -> list[dict[str, list[str]]]:
    """For each socket in order: every function_call_output it received, by call id."""
    found: list[dict[str, list[str]]] = []
    for connection in t.sim.connections:
        outputs: dict[str, list[str]] = {}
        for event in connection.received.of_type("conversation.item.create"):
            item = event["item"]
            if item["type"] == "function_call_output":
                outputs.setdefault(item["call_id"], []).append(item["output"])
        found.append(outputs)
    return found


def declared(t: Live, index: int) -> list[list[str]]:
    """The tool names of every session.update sent on socket ``index``, in order."""
    updates = t.sim.connections[index].received.of_type("session.update")
    return [[x["name"] for x in u["session"].get("tools", [])] for u in updates]


async def finished(t: Live, count: int) -> dict[str, ToolCallFinished]:
    def found() -> list[ToolCallFinished] | None:
        done = t.events.of(ToolCallFinished)
        return done if len(done) >= count else None

    return {f.name: f for f in await t.events.until(found)}


async def answered(t: Live, text: Callable[[str], bool]) -> ResponseFinished:
    return await t.events.wait_for(ResponseFinished, lambda e: text(e.text or ""))


async def until_marked(marks: Path, mark: str) -> None:
    """Wait until the MCP server's tool has written ``mark``: another process, no event."""
    await eventually(lambda: mark in marks_of(marks), f"the server's tool to mark {mark!r}")


def text_agent(tools: Any) -> Agent:
    return Agent(instructions="x", tools=tools, modality="text", turn_detection=None)


@pytest.mark.parametrize("drop", DROPS)
@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_a_call_running_across_a_drop_runs_once_and_is_answered_on_the_new_socket(
    kind: str, drop: str, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    scenario = Scenario().on("hold").call("hold", key="k").say(lambda o: f"Got {o.raw('hold')}.")
    options = SessionOptions(reconnect=FAST)
    async with gated(kind, "alpha", marks) as server:
        async with live(scenario, text_agent(await server.tools()), options=options) as t:
            event_type, count = DROPS[drop]
            t.sim.faults.drop_after_event(event_type, count=count, code=1011)
            await t.session.send_text("hold please")
            await until_marked(marks, "started hold k")
            await t.events.wait_for(Reconnected)
            release(marks, "k")
            final = await answered(t, lambda text: text.startswith("Got"))
            (done,) = (await finished(t, 1)).values()
    assert final.text == "Got held k."
    assert done.output == "held k" and not done.is_error
    assert len(t.sim.connections) == 2
    assert outputs_per_connection(t) == [{}, {done.call_id: ["held k"]}]
    assert marks_of(marks).count("started hold k") == 1  # not run again after the drop
    assert marks_of(marks).count("finished hold k") == 1


@pytest.mark.parametrize("drop", ["mid-response", "after-response"])
async def test_stdio_http_and_local_calls_in_parallel_across_a_drop(
    drop: str, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    local_release = asyncio.Event()
    local_runs: list[str] = []

    @tool
    async def local_hold(key: str) -> str:
        """Run until the test releases it."""
        local_runs.append(key)
        await local_release.wait()
        return f"local held {key}"

    scenario = (
        Scenario()
        .on("all")
        .call("s_hold", key="s")
        .call("h_hold", key="h")
        .call("local_hold", key="l")
        .say(lambda o: f"Got {o.raw('s_hold')}, {o.raw('h_hold')}, {o.raw('local_hold')}.")
    )
    # Cut after the third call's announcement, or after the response's end.
    event_type, count = ("response.output_item.done", 3) if drop == "mid-response" else DROPS[drop]
    options = SessionOptions(reconnect=FAST)
    async with (
        gated("stdio", "alpha", marks, prefix="s") as stdio_server,
        gated("http", "beta", marks, prefix="h") as http_server,
    ):
        tools = await gather_tools([local_hold], stdio_server, http_server)
        async with live(scenario, text_agent(tools), options=options) as t:
            t.sim.faults.drop_after_event(event_type, count=count, code=1011)
            await t.session.send_text("all at once")
            started = {"started hold s", "started hold h"}
            await eventually(
                lambda: started <= set(marks_of(marks)) and bool(local_runs),
                "both MCP calls and the local tool to start",
            )
            await t.events.wait_for(Reconnected)
            release(marks, "s")
            release(marks, "h")
            local_release.set()
            final = await answered(t, lambda text: text.startswith("Got"))
            done = await finished(t, 3)
            await t.session.send_text("nothing else")  # a later turn: no late duplicate
            await answered(t, lambda text: "nothing else" in text)
    assert final.text == "Got held s, held h, local held l."
    assert {name: d.output for name, d in done.items()} == {
        "s_hold": "held s",
        "h_hold": "held h",
        "local_hold": "local held l",
    }
    assert len(t.sim.connections) == 2
    first, second = outputs_per_connection(t)
    assert first == {}
    assert second == {d.call_id: [d.output] for d in done.values()}  # each once, on the new one
    lines = marks_of(marks)
    assert [lines.count(f"finished hold {k}") for k in "sh"] == [1, 1]
    assert [lines.count(f"started hold {k}") for k in "sh"] == [1, 1]
    assert local_runs == ["l"]


GROW_AND_SHOUT = (
    Scenario()
    .on("grow")
    .call("grow")
    .say("Grown.")
    .on("shout")
    .call("shout", text="hi")
    .say(lambda o: f"Shouted {o.raw('shout')}")
    .scenario
)


def tools_before_output(t: Live, index: int, call_id: str) -> list[str] | None:
    """The tools socket ``index`` had declared when the call's output reached it (``None``: it
    never did)."""
    tools: list[str] = []
    for event in t.sim.connections[index].received:
        if event["type"] == "session.update":
            tools = [x["name"] for x in event["session"].get("tools", [])]
        elif event["type"] == "conversation.item.create":
            item = event["item"]
            if item["type"] == "function_call_output" and item["call_id"] == call_id:
                return tools
    return None


@asynccontextmanager
async def plain(kind: str, name: str) -> AsyncIterator[MCPServer]:
    """A test server over ``kind`` ("stdio" or "http"), connected."""
    if kind == "stdio":
        async with MCPServerStdio(sys.executable, [str(STDIO_SCRIPT), name]) as server:
            yield server
        return
    async with serve_http(build(name)) as url, MCPServerHTTP(url) as server:
        yield server


@pytest.mark.parametrize(
    "drop",
    [None, ("response.done", 1), ("response.done", 2)],
    ids=["steady", "while-the-changing-call-runs", "after-the-refresh"],
)
@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_a_list_change_is_declared_before_the_output_and_after_a_drop(
    kind: str, drop: tuple[str, int] | None
) -> None:
    """The call that changed the tools is answered only once its socket declares the new
    ones, wherever the socket drops; the new socket declares them, and the new tool works."""
    options = SessionOptions(reconnect=FAST)
    async with plain(kind, "beta") as server:
        async with live(GROW_AND_SHOUT, text_agent(await server.tools()), options=options) as t:
            server.keep_updated(t.session)
            if drop is not None:
                event_type, count = drop
                t.sim.faults.drop_after_event(event_type, count=count, code=1011)
            await t.session.send_text("grow please")
            await answered(t, lambda text: text == "Grown.")
            if drop is not None:
                await t.events.wait_for(Reconnected)
            await t.session.send_text("shout please")
            final = await answered(t, lambda text: text.startswith("Shouted"))
            done = await finished(t, 2)
    last = len(t.sim.connections) - 1
    assert last == (0 if drop is None else 1)
    before = declared(t, 0)[0]
    assert "shout" not in before
    assert declared(t, last)[-1] == [*before, "shout"]
    assert final.text == "Shouted HI!"
    assert done["grow"].output == "added shout" and done["shout"].output == "HI!"
    grow, shout = done["grow"].call_id, done["shout"].call_id
    # Wherever grow's output went (sent, or replayed on the new socket), the tool it added was
    # declared there first; the last socket holds it once.
    for index in range(last + 1):
        tools = tools_before_output(t, index, grow)
        assert tools is None or tools == [*before, "shout"], (index, tools)
    per_socket = outputs_per_connection(t)
    assert per_socket[last][grow] == ["added shout"] and len(per_socket[0].get(grow, [])) <= 1
    assert per_socket[last][shout] == ["HI!"]


@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_a_list_change_during_the_drop_is_declared_on_the_new_socket(kind: str) -> None:
    """The tools change while no socket is up (another session of the shared server calls
    ``grow``): the new socket's configuration has them, and the model can call the new one."""
    options = SessionOptions(reconnect=PATIENT)
    scenario = GROW_AND_SHOUT
    async with plain(kind, "beta") as server:
        tools = {x.name: x for x in await server.tools()}
        async with live(scenario, text_agent(list(tools.values())), options=options) as t:
            server.keep_updated(t.session)
            await t.sim.go_offline()
            await t.events.wait_for(Reconnecting)
            grown = await asyncio.wait_for(tools["grow"].invoke("{}"), TIMEOUT)
            await eventually(
                lambda: "shout" in t.session.agent.toolset, "the new tool to be listed"
            )
            assert t.session.agent.toolset.get("shout") is not None
            await t.sim.go_online()
            await t.events.wait_for(Reconnected)
            await t.sim.connections[1].received.wait_for("session.update", timeout=TIMEOUT)
            await t.session.send_text("shout please")
            final = await answered(t, lambda text: text.startswith("Shouted"))
            (done,) = (await finished(t, 1)).values()
    assert grown.output == "added shout"
    first, second = declared(t, 0), declared(t, 1)
    assert first == [first[0]] and "shout" not in first[0]  # nothing sent while offline
    assert second[0] == [*first[0], "shout"]
    assert final.text == "Shouted HI!" and done.output == "HI!"
    assert outputs_per_connection(t)[1] == {done.call_id: ["HI!"]}


@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_barge_in_after_a_drop_cancels_the_mcp_request(kind: str, tmp_path: Path) -> None:
    """The socket drops while an MCP call runs; the user barges in on the new socket: the
    request is cancelled on the server, and the call gets one output, on the new socket."""
    marks = tmp_path / "marks"
    scenario = Scenario().on("wait").call("wait_forever").say("Done.").on_audio().say("Stopped.")
    options = SessionOptions(interrupt_policy="cancel", reconnect=FAST)
    async with gated(kind, "alpha", marks) as server:
        agent = Agent(instructions="x", tools=await server.tools())
        async with live(scenario, agent, options=options) as t:
            t.sim.faults.drop_after_event("response.done", code=1011)
            await t.session.send_text("wait please")
            await until_marked(marks, "started wait_forever")
            await t.events.wait_for(Reconnected)
            await t.sim.connections[1].received.wait_for("session.update", timeout=TIMEOUT)
            await t.session.send_audio(speech(400) + silence(700))
            (done,) = (await finished(t, 1)).values()
            await until_marked(marks, "cancelled wait_forever")
            await answered(t, lambda text: text == "Stopped.")
    assert done.error_type == "cancelled"
    assert outputs_per_connection(t) == [{}, {done.call_id: [done.output]}]
    assert marks_of(marks).count("started wait_forever") == 1
    # The cancelled round asks for no follow-up: only the user's speech got an answer.
    assert len(t.sim.connections[1].received.of_type("response.create")) == 0


async def test_a_hosted_call_denied_across_a_drop_gets_one_answer_and_is_never_made() -> None:
    """The socket drops while the application decides a hosted MCP approval request, and the
    decision is no: one denial, on the new socket, and the service never calls the server."""
    from tests.mcp.test_hosted import _answers_on, hosted, listed

    scenario = (
        Scenario()
        .on("forecast")
        .call("lookup", city="Oslo")
        .say(lambda out: f"Denied: {out.raw('lookup')} ({out.all[-1].approved})")
    )
    release = asyncio.Event()
    asked: list[ToolCallRequest] = []

    async def deny(request: ToolCallRequest) -> Approval:
        asked.append(request)
        await release.wait()  # the socket drops while the application decides
        return Approval.deny("the user said no")

    async with hosted(scenario, approval="always", approve=deny, reconnect=FAST) as state:
        await listed(state)
        state.sim.faults.drop_after_event("response.done", code=1011)
        reply = asyncio.ensure_future(state.session.ask("the forecast please", timeout=TIMEOUT))
        await state.until(lambda: bool(state.of(Reconnected)) and bool(asked))
        release.set()
        answer = await reply
        history = state.session.history
    assert answer.text == "Denied: the user said no (False)"
    assert len(asked) == 1
    first, second = state.sim.connections
    assert _answers_on(first) == []
    (sent,) = _answers_on(second)
    assert sent["approve"] is False and sent["reason"] == "the user said no"
    made = [e for c in (first, second) for e in c.sent if e["type"].startswith("response.mcp_call")]
    assert made == []
    assert not state.of(HostedToolCallFinished)
    (response,) = [h for h in history if h.type == "mcp_approval_response"]
    assert response.approved is False


@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_a_drop_right_as_the_user_barges_in_still_cancels_once(
    kind: str, tmp_path: Path
) -> None:
    """The socket drops right after the service heard the user start speaking: the barge-in
    still cancels the MCP request, and the call's output reaches the new socket once (sent
    there, or replayed there if it went out on the dying one)."""
    marks = tmp_path / "marks"
    scenario = Scenario().on("wait").call("wait_forever").say("Done.").on_audio().say("Stopped.")
    options = SessionOptions(interrupt_policy="cancel", reconnect=FAST)
    async with gated(kind, "alpha", marks) as server:
        agent = Agent(instructions="x", tools=await server.tools())
        async with live(scenario, agent, options=options) as t:
            await t.session.send_text("wait please")
            await until_marked(marks, "started wait_forever")
            t.sim.faults.drop_after_event("input_audio_buffer.speech_started", code=1011)
            await t.session.send_audio(speech(400) + silence(700))
            (done,) = (await finished(t, 1)).values()
            await until_marked(marks, "cancelled wait_forever")
            await t.events.wait_for(Reconnected)
            await t.sim.connections[1].received.wait_for(
                "conversation.item.create",
                timeout=TIMEOUT,
                where=lambda e: (
                    e["item"].get("call_id") == done.call_id
                    and e["item"]["type"] == "function_call_output"
                ),
            )
    assert done.error_type == "cancelled"
    per_socket = outputs_per_connection(t)
    assert len(per_socket) == 2
    assert per_socket[1][done.call_id] == [done.output]
    assert len(per_socket[0].get(done.call_id, [])) <= 1
    assert marks_of(marks).count("started wait_forever") == 1


@pytest.mark.parametrize(
    "offline",
    [False, True],
    ids=["steady", "socket-down"],
)
@pytest.mark.parametrize("kind", ["stdio", "http"])
async def test_progress_while_the_socket_is_down_does_not_hold_up_the_answer(
    kind: str, offline: bool, tmp_path: Path
) -> None:
    """The MCP tool reports progress while no socket is up: the answer to its output still
    comes on the new socket (a progress response asked for with no socket must not block the
    follow-up)."""
    marks = tmp_path / "marks"
    scenario = Scenario().on("hold").call("hold", key="k").say(lambda o: f"Got {o.raw('hold')}.")
    # speak_progress is on; no watchdog, so that a stall shows as one
    options = SessionOptions(reconnect=PATIENT, stale_response_after=None)
    async with gated(kind, "alpha", marks) as server:
        async with live(scenario, text_agent(await server.tools()), options=options) as t:
            await t.session.send_text("hold please")
            await until_marked(marks, "started hold k")
            await t.events.wait_for(ResponseFinished)  # the response that made the call
            if offline:
                await t.sim.go_offline()
                await t.events.wait_for(Reconnecting)
            tick(marks, "k")
            await t.events.wait_for(ToolProgress)
            if offline:
                await t.sim.go_online()
                await t.events.wait_for(Reconnected)
            release(marks, "k")
            final = await answered(t, lambda text: text.startswith("Got"))
            (done,) = (await finished(t, 1)).values()
    assert final.text == "Got held k."
    assert outputs_per_connection(t)[-1] == {done.call_id: ["held k"]}
