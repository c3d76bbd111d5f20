"""A call someone else carries, run from the server over its sideband, on real sockets."""

from __future__ import annotations

import asyncio

import pytest

from agentkit import Approval, Endpoint, Session, SessionOptions, ToolCallRequest
from agentkit.calls import CallControl, MediaNotOwnedError, SidebandSession
from agentkit.errors import ConfigurationError, DeploymentNotFoundError
from agentkit.events import (
    DtmfReceived,
    Reconnected,
    ReconnectGaveUp,
    ResponseFinished,
    SessionClosed,
    ToolCallFinished,
    TranscriptDelta,
)
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from tests.calls.support import CANARY_KEY, OFFER, Gate, order_agent, simulator
from tests.dispatch.loopback import Recorder
from tests.support import TIMEOUT

FAST = SessionOptions(reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.05))


def endpoint(sim: Simulator) -> Endpoint:
    return Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)


async def open_call(sim: Simulator) -> str:
    """A browser's offer relayed by the server: the call it learns of."""
    control = CallControl(endpoint(sim), api_base_url=sim.calls.api_base)
    answer = await control.create_call(OFFER, order_agent())
    return answer.call_id


def outputs_for(sim: Simulator, call_id: str) -> list[str]:
    return [
        e["item"]["output"]
        for e in sim.received
        if e["type"] == "conversation.item.create"
        and e["item"].get("type") == "function_call_output"
        and e["item"].get("call_id") == call_id
    ]


async def test_sideband_runs_the_tools_of_a_call_the_browser_carries() -> None:
    async with simulator() as sim:
        call_id = await open_call(sim)
        session = Session.attach(call_id, order_agent(), endpoint(sim))
        assert isinstance(session, SidebandSession) and session.call_id == call_id
        events = Recorder(session)
        async with session:
            assert sim.connections[0].path == f"/v1/realtime?call_id={call_id}"
            await sim.calls.caller_says(call_id, "where is my order?")
            done = await events.wait_for(ToolCallFinished)
            assert done.output == "order 42 shipped"
            await events.wait_for(ResponseFinished, where=lambda e: "shipped" in e.text)
            assert outputs_for(sim, done.call_id) == ["order 42 shipped"]
            await sim.press_keys("5")
            assert (await events.wait_for(DtmfReceived)).key == "5"
        # the service kept the conversation of the call, not of the socket
        state = sim.calls.calls[call_id].state
        assert state is not None
        assert [i["type"] for i in state.conversation.items][:3] == [
            "message",
            "function_call",
            "function_call_output",
        ]


async def test_audio_on_a_sideband_fails_clearly_and_sends_nothing() -> None:
    async with simulator() as sim:
        call_id = await open_call(sim)
        async with SidebandSession(call_id, order_agent(), endpoint(sim)) as session:
            for attempt in (
                session.send_audio(b"\0\0" * 240),
                session.commit_audio(),
                session.clear_audio(),
            ):
                with pytest.raises(MediaNotOwnedError, match="sideband"):
                    await attempt
            assert not [e for e in sim.received if e["type"].startswith("input_audio_buffer.")]


async def test_attach_to_an_unknown_call_is_refused() -> None:
    async with simulator() as sim:
        options = SessionOptions(reconnect=ReconnectPolicy(enabled=False))
        session = SidebandSession("rtc_nope", order_agent(), endpoint(sim), options=options)
        with pytest.raises(DeploymentNotFoundError):
            await session.start()


def test_a_preview_endpoint_has_no_sideband() -> None:
    version = "2025-04-01-preview"
    preview = Endpoint.azure("https://r.openai.azure.com", "d", "k", api_version=version)
    with pytest.raises(ConfigurationError, match="GA"):
        SidebandSession("rtc_1", order_agent(), preview)


@pytest.mark.parametrize("release", ["after_reattach", "during_drop"])
async def test_a_dropped_sideband_reattaches_and_each_call_gets_one_output(release: str) -> None:
    gate = Gate()
    async with simulator() as sim:
        call_id = await open_call(sim)
        session = SidebandSession(call_id, order_agent(gate), endpoint(sim), options=FAST)
        events = Recorder(session)
        async with session:
            await sim.calls.caller_says(call_id, "where is my order?")
            await asyncio.wait_for(gate.entered.wait(), TIMEOUT)
            if release == "during_drop":
                await sim.go_offline()
                gate.opened.set()
                await events.wait_for(ToolCallFinished)
                await sim.go_online()
            else:
                await sim.close_connections(1011, "lost")
            reconnected = await events.wait_for(Reconnected)
            assert reconnected.restored_items == 0  # the call kept its conversation
            gate.opened.set()
            await events.wait_for(ResponseFinished, where=lambda e: "shipped" in e.text)
            (done,) = events.of(ToolCallFinished)
            assert outputs_for(sim, done.call_id) == ["order 42 shipped"]
            assert gate.runs == 1
            second = sim.connections[-1]
            assert second.path == f"/v1/realtime?call_id={call_id}"
            assert len(sim.connections) == 2
            # nothing of the conversation was sent again on the new socket
            created = second.received.of_type("conversation.item.create")
            assert [e["item"]["type"] for e in created] == ["function_call_output"]


async def test_hang_up_ends_the_sideband_session() -> None:
    async with simulator() as sim:
        call_id = await open_call(sim)
        control = CallControl(endpoint(sim), api_base_url=sim.calls.api_base)
        session = SidebandSession(call_id, order_agent(), endpoint(sim), options=FAST)
        events = Recorder(session)
        async with session:
            await control.hangup(call_id)
            closed = await events.wait_for(SessionClosed)
            assert closed.code == 1000
            assert not events.of(Reconnected)
        assert sim.calls.calls[call_id].status == "ended"


async def test_approval_and_history_work_on_a_sideband() -> None:
    gate = Gate()
    asked: list[str] = []

    def approve(request: ToolCallRequest) -> Approval:
        asked.append(request.name)
        return Approval.deny("orders are closed tonight")

    options = SessionOptions(approve=approve)
    async with simulator() as sim:
        call_id = await open_call(sim)
        session = SidebandSession(call_id, order_agent(gate), endpoint(sim), options=options)
        events = Recorder(session)
        async with session:
            await sim.calls.caller_says(call_id, "where is my order?")
            done = await events.wait_for(ToolCallFinished)
            assert done.is_error and "orders are closed tonight" in done.output
            await events.wait_for(ResponseFinished, where=lambda e: bool(e.text))
            assert asked == ["order_status"] and gate.runs == 0
            assert outputs_for(sim, done.call_id) == [done.output]
            caller = session.history[0]
            assert (caller.role, caller.text) == ("user", "where is my order?")


async def test_a_response_cut_by_a_drop_is_heard_once() -> None:
    long_answer = "One two three four five six seven eight nine ten eleven twelve."
    scenario = Scenario().on("hello").say(long_answer).scenario
    async with Simulator(scenario, api_key=CANARY_KEY, stream_delay=0.01) as sim:
        call_id = await open_call(sim)
        session = SidebandSession(call_id, order_agent(), endpoint(sim), options=FAST)
        events = Recorder(session)
        async with session:
            await sim.calls.caller_says(call_id, "hello")
            await events.wait_for(TranscriptDelta)
            await sim.close_connections(1011, "lost")
            await events.wait_for(Reconnected)
            finished = await events.wait_for(ResponseFinished)
            assert finished.text == long_answer  # the service went on; the re-attach hears it
            assert session.idle
            assert "response.create" not in sim.connections[-1].received.types()
            assert len(events.of(ResponseFinished)) == 1


async def test_a_call_that_ended_during_a_drop_closes_the_session() -> None:
    async with simulator() as sim:
        call_id = await open_call(sim)
        session = SidebandSession(call_id, order_agent(), endpoint(sim), options=FAST)
        events = Recorder(session)
        async with session:
            await sim.go_offline()
            sim.calls.calls[call_id].status = "ended"  # the caller hung up meanwhile
            await sim.go_online()
            gave_up = await events.wait_for(ReconnectGaveUp)
            assert "404" in gave_up.reason
            await events.wait_for(SessionClosed)
