"""Hosted MCP over real sockets: the simulator, as the service, lists and calls a real MCP
server over streamable HTTP; agentkit answers its approval requests through the hook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("mcp")

from agentkit import Agent, Endpoint, HostedMCP, Session, SessionOptions
from agentkit.approval import Approval, ToolCallRequest
from agentkit.events import (
    Event,
    HostedToolApprovalAnswered,
    HostedToolApprovalRequested,
    HostedToolCall,
    HostedToolCallFinished,
    HostedToolsListing,
    Reconnected,
)
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from tests.mcp.servers import build, serve_http
from tests.support import TIMEOUT, eventually

FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, max_seconds=TIMEOUT)
CANARY = "canary-7f3a9c0d41e2"
TOOL_NAMES = ("lookup", "count", "wait_forever", "grow", "exit_later", "crash")

FORECAST = (
    Scenario()
    .on("forecast")
    .call("lookup", city="Oslo", days=2)
    .say(lambda out: f"Forecast: {out.raw('lookup')}")
)


@dataclass
class Hosted:
    """A session against the simulator, which calls the test's HTTP MCP server."""

    session: Session
    sim: Simulator
    headers_seen: list[dict[str, str]]
    events: list[Event] = field(default_factory=list)

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    async def until(self, found: Callable[[], bool]) -> None:
        await eventually(found, "events the handler collects")  # no event to await here

    def answers_received(self) -> list[dict[str, Any]]:
        """Every mcp_approval_response item the simulator received, all connections."""
        return [
            e["item"]
            for e in self.sim.received
            if e.get("type") == "conversation.item.create"
            and e["item"].get("type") == "mcp_approval_response"
        ]


@asynccontextmanager
async def hosted(
    scenario: Scenario,
    *,
    approval: Any = "never",
    approve: Any = None,
    reconnect: ReconnectPolicy | None = None,
) -> AsyncIterator[Hosted]:
    seen: list[dict[str, str]] = []
    async with serve_http(build("wx"), seen) as url, Simulator(scenario) as sim:
        server = HostedMCP(
            "weather", url, headers={"X-Notes-Token": CANARY}, require_approval=approval
        )
        agent = Agent(instructions="x", tools=[server], modality="text", turn_detection=None)
        options = SessionOptions(approve=approve, reconnect=reconnect or ReconnectPolicy())
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        session = Session(agent, endpoint, options=options)
        state = Hosted(session, sim, seen)
        for kind in Event.__args__:  # type: ignore[attr-defined]
            session.on(kind, state.events.append)
        async with session:
            yield state


async def listed(state: Hosted) -> HostedToolsListing:
    await state.until(lambda: any(e.status != "in_progress" for e in state.of(HostedToolsListing)))
    return state.of(HostedToolsListing)[-1]  # type: ignore[no-any-return]


async def test_the_servers_tools_are_listed_with_the_secret_header() -> None:
    async with hosted(FORECAST) as state:
        done = await listed(state)
        history = state.session.history
    assert done.status == "completed" and done.server_label == "weather"
    assert done.tools == TOOL_NAMES
    (item,) = [h for h in history if h.type == "mcp_list_tools"]
    assert item.tools == TOOL_NAMES and item.server_label == "weather"
    assert state.headers_seen and all(h.get("x-notes-token") == CANARY for h in state.headers_seen)
    updated = state.sim.connections[0].sent.of_type("session.updated")[-1]
    (tool,) = updated["session"]["tools"]
    assert tool["server_label"] == "weather" and "headers" not in tool


async def test_a_call_is_made_and_its_real_output_answers_the_user() -> None:
    async with hosted(FORECAST) as state:
        await listed(state)
        answer = await state.session.ask("the forecast please", timeout=TIMEOUT)
        history = state.session.history
    assert answer.text == "Forecast: wx: Oslo sunny for 2 day(s)"
    (finished,) = state.of(HostedToolCallFinished)
    assert (finished.server_label, finished.name) == ("weather", "lookup")
    (listed_call,) = answer.tool_calls
    assert (listed_call.server_label, listed_call.name, listed_call.call_id) == (
        "weather",
        "lookup",
        finished.item_id,
    )
    assert listed_call.output == finished.output and not listed_call.is_error
    assert finished.output == "wx: Oslo sunny for 2 day(s)" and finished.error is None
    assert [e.status for e in state.of(HostedToolCall)] == ["in_progress", "completed"]
    (call,) = [h for h in history if h.type == "mcp_call"]
    assert call.output == finished.output and call.arguments == '{"city": "Oslo", "days": 2}'
    assert state.answers_received() == []  # "never": no approval asked


async def test_an_approved_call_runs_after_exactly_one_answer() -> None:
    asked: list[ToolCallRequest] = []

    def approve(request: ToolCallRequest) -> Approval:
        asked.append(request)
        return Approval.allow()

    async with hosted(FORECAST, approval="always", approve=approve) as state:
        await listed(state)
        answer = await state.session.ask("the forecast please", timeout=TIMEOUT)
    assert answer.text == "Forecast: wx: Oslo sunny for 2 day(s)"
    (request,) = asked
    assert request.hosted and (request.server_label, request.name) == ("weather", "lookup")
    (sent,) = state.answers_received()
    assert sent["approve"] is True and sent["approval_request_id"] == request.call_id
    (finished,) = state.of(HostedToolCallFinished)
    assert finished.approval_request_id == request.call_id
    assert [e.approved for e in state.of(HostedToolApprovalAnswered)] == [True]


async def test_a_denied_call_is_not_made_and_the_model_hears_why() -> None:
    scenario = (
        Scenario()
        .on("forecast")
        .call("lookup", city="Oslo")
        .say(lambda out: f"Denied: {out.raw('lookup')} ({out.all[-1].approved})")
    )

    async def deny(request: ToolCallRequest) -> Approval:
        await asyncio.sleep(0)
        return Approval.deny("the user said no")

    async with hosted(scenario, approval="always", approve=deny) as state:
        await listed(state)
        answer = await state.session.ask("the forecast please", timeout=TIMEOUT)
        history = state.session.history
    assert answer.text == "Denied: the user said no (False)"
    (sent,) = state.answers_received()
    assert sent["approve"] is False and sent["reason"] == "the user said no"
    assert not state.of(HostedToolCallFinished)
    assert not [h for h in history if h.type == "mcp_call"]
    (response,) = [h for h in history if h.type == "mcp_approval_response"]
    assert response.approved is False and response.reason == "the user said no"
    server = state.sim.connections[0].sent
    assert not [e for e in server if e["type"].startswith("response.mcp_call")]


async def test_without_a_hook_a_request_is_denied() -> None:
    async with hosted(FORECAST, approval="always") as state:
        await listed(state)
        await state.session.ask("the forecast please", timeout=TIMEOUT)
    (sent,) = state.answers_received()
    assert sent["approve"] is False and "SessionOptions.approve" in sent["reason"]
    assert not state.of(HostedToolCallFinished)


async def test_a_request_pending_across_a_dropped_socket_gets_exactly_one_answer() -> None:
    release = asyncio.Event()
    asked: list[ToolCallRequest] = []

    async def approve(request: ToolCallRequest) -> Approval:
        asked.append(request)
        await release.wait()  # the socket drops while the application decides
        return Approval.allow()

    async with hosted(FORECAST, approval="always", approve=approve, reconnect=FAST) as state:
        await listed(state)
        state.sim.faults.drop_after_event("response.done")
        reply = asyncio.ensure_future(state.session.ask("the forecast please", timeout=TIMEOUT))
        await state.until(lambda: bool(state.of(Reconnected)))
        release.set()
        answer = await reply
        (reconnected,) = state.of(Reconnected)
    assert answer.text == "Forecast: wx: Oslo sunny for 2 day(s)"
    assert len(asked) == 1
    first, second = state.sim.connections
    assert [a["approve"] for a in state.answers_received()] == [True]
    assert _answers_on(first) == [] and len(_answers_on(second)) == 1
    replayed = [e["item"]["type"] for e in second.received.of_type("conversation.item.create")]
    assert replayed.index("mcp_approval_request") < replayed.index("mcp_approval_response")
    assert any("lists the server's tools again" in note for note in reconnected.not_restored)


async def test_a_call_cut_by_a_dropped_socket_is_made_again_with_one_answer() -> None:
    asked: list[ToolCallRequest] = []

    def approve(request: ToolCallRequest) -> bool:
        asked.append(request)
        return True

    async with hosted(FORECAST, approval="always", approve=approve, reconnect=FAST) as s:
        await listed(s)
        s.sim.faults.drop_after_event("response.mcp_call.in_progress")
        answer = await s.session.ask("the forecast please", timeout=TIMEOUT)
        history = s.session.history
    assert answer.text == "Forecast: wx: Oslo sunny for 2 day(s)"
    first, second = s.sim.connections
    (answered,) = _answers_on(first)
    (restored,) = _answers_on(second)  # the history's answer, replayed once
    assert restored == answered, "the same answer, not a second decision"
    calls = [h for h in history if h.type == "mcp_call"]
    assert [c.output for c in calls] == ["wx: Oslo sunny for 2 day(s)"]  # the cut one is gone
    assert len(s.of(HostedToolApprovalRequested)) == 1 and len(asked) == 1


async def test_the_header_token_stays_out_of_logs_reprs_events_and_cassettes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with hosted(FORECAST, approval="always", approve=lambda r: True) as state:
        await listed(state)
        await state.session.ask("the forecast please", timeout=TIMEOUT)
        agent = state.session.agent
        shown = [repr(agent), repr(agent.session_config()), repr(agent.hosted_mcp)]
    assert any(h.get("x-notes-token") == CANARY for h in state.headers_seen), (
        "it did reach the server"
    )
    cassettes = [c.cassette().dumps() for c in state.sim.connections]
    sent = [str(e) for c in state.sim.connections for e in c.sent]
    told = [repr(e) for e in state.events]
    history = repr(state.session.history) + repr(state.session.server_session)
    for text in (caplog.text, *shown, *cassettes, *sent, *told, history):
        assert CANARY not in text


def _answers_on(connection: Any) -> list[dict[str, Any]]:
    return [
        e["item"]
        for e in connection.received.of_type("conversation.item.create")
        if e["item"].get("type") == "mcp_approval_response"
    ]


async def test_a_call_the_server_refuses_fails_and_the_model_hears_the_error() -> None:
    scenario = (
        Scenario()
        .on("forecast")
        .call("lookup", days=2)  # no city: the server refuses the arguments
        .say(lambda out: f"Failed: {'city' in out.raw('lookup')}")
    )
    async with hosted(scenario) as state:
        await listed(state)
        answer = await state.session.ask("the forecast please", timeout=TIMEOUT)
        history = state.session.history
    assert answer.text == "Failed: True"
    assert [e.status for e in state.of(HostedToolCall)] == ["in_progress", "failed"]
    (finished,) = state.of(HostedToolCallFinished)
    assert finished.output is None and finished.error is not None
    assert finished.error["type"] == "tool_execution_error" and "city" in finished.error["message"]
    (call,) = [h for h in history if h.type == "mcp_call"]
    assert call.error == finished.error["message"]


async def test_a_server_that_cannot_be_reached_fails_its_listing() -> None:
    from tests.mcp.servers import free_port

    async with Simulator(FORECAST) as sim:
        server = HostedMCP("gone", f"http://127.0.0.1:{free_port()}/mcp", require_approval="never")
        agent = Agent(instructions="x", tools=[server], modality="text", turn_detection=None)
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        session = Session(agent, endpoint)
        listings: list[HostedToolsListing] = []
        session.on(HostedToolsListing, listings.append)
        async with session:
            answer = await session.ask("the forecast please", timeout=TIMEOUT)
    assert [e.status for e in listings] == ["in_progress", "failed"]
    assert answer.text == "[simulator] Cannot call undeclared tool 'lookup'."
