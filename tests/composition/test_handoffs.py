"""Hand-offs over real WebSockets against the simulator: there and back, the cap, the approval
veto, and each surviving a dropped socket in the middle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, Field

from agentkit import Agent, Approval, SessionOptions, ToolCallRequest, tool
from agentkit.errors import ToolDefinitionError
from agentkit.events import HandoffOccurred, ResponseFinished, ToolCallFinished
from agentkit.handoffs import handoff, handoff_back
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario
from tests.dispatch.loopback import Live, live
from tests.support import TIMEOUT

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)


class Reason(BaseModel):
    reason: str = Field(description="why the caller needs billing")


@tool
def get_invoice(number: str) -> dict[str, Any]:
    """The invoice with this number."""
    return {"number": number, "amount": 42}


BILLING = Agent(
    name="billing",
    instructions="You are billing. Answer invoice questions.",
    tools=[get_invoice],
    handoffs=[handoff_back()],
    voice="verse",
    modality="text",
)
TRIAGE = Agent(
    name="triage",
    instructions="You are triage. Route the caller.",
    handoffs=[handoff(BILLING, input_type=Reason)],
    voice="alloy",
    modality="text",
)

THERE_AND_BACK = (
    Scenario()
    .on("invoice")
    .call("transfer_to_billing", reason="invoice question")
    .then()
    .call("get_invoice", number="A-7")  # declared by billing only: the swap came first
    .say(lambda out: f"Invoice {out['get_invoice']['number']} is {out['get_invoice']['amount']}.")
    .on("thanks")
    .call("transfer_back")
    .say("Triage again: anything else?")
    .scenario
)


async def _settled(t: Live, count: int = 1) -> ResponseFinished:
    """The ``count``-th final answer (a response after which nothing is left to do)."""

    def found() -> ResponseFinished | None:
        finals = [e for e in t.events.of(ResponseFinished) if e.text]
        return finals[count - 1] if len(finals) >= count and t.session.idle else None

    return await t.events.until(found)


def _session_updates(t: Live, index: int = 0) -> list[dict[str, Any]]:
    return t.sim.connections[index].received.of_type("session.update")


def _wire_order(t: Live, call_id: str, index: int = 0) -> tuple[int, int, int]:
    """Positions of the transfer's session.update, the call's output and the next
    response.create in what the client sent on connection ``index``."""
    sent = t.sim.connections[index].received
    events = list(sent)
    output = next(
        i
        for i, e in enumerate(events)
        if e["type"] == "conversation.item.create" and e["item"].get("call_id") == call_id
    )
    update = max(i for i, e in enumerate(events[:output]) if e["type"] == "session.update")
    create = next(i for i, e in enumerate(events) if i > output and e["type"] == "response.create")
    return update, output, create


@pytest.mark.parametrize("preview", [False, True], ids=["ga", "preview"])
async def test_a_handoff_there_and_back_keeps_the_history(preview: bool) -> None:
    async with live(THERE_AND_BACK, TRIAGE, preview=preview) as t:
        await t.session.send_text("a question about my invoice")
        first = await _settled(t)
        assert first.text == "Invoice A-7 is 42."
        assert t.session.agent is BILLING
        (there,) = t.events.of(HandoffOccurred)
        assert (there.source, there.target, there.back) == ("triage", "billing", False)
        assert there.arguments == {"reason": "invoice question"}
        update, output, create = _wire_order(t, there.call_id)
        assert update < output < create
        assert _session_updates(t)[-1]["session"]["instructions"] == BILLING.instructions

        await t.session.send_text("thanks, that's all")
        second = await _settled(t, 2)
        assert second.text == "Triage again: anything else?"
        assert t.session.agent is TRIAGE
        back = t.events.of(HandoffOccurred)[1]
        assert (back.source, back.target, back.back) == ("billing", "triage", True)
        assert _session_updates(t)[-1]["session"]["instructions"] == TRIAGE.instructions
        texts = [item.text for item in t.session.history if item.type == "message"]
        assert texts == [
            "a question about my invoice",
            "Invoice A-7 is 42.",
            "thanks, that's all",
            "Triage again: anything else?",
        ]
        names = [item.name for item in t.session.history if item.type == "function_call"]
        assert names == ["transfer_to_billing", "get_invoice", "transfer_back"]
        await t.assert_one_output_per_call()
        assert len(t.client("response.create")) == 5  # two turns, three follow-ups


async def test_a_dropped_socket_after_the_transfer_restores_the_new_agent() -> None:
    options = SessionOptions(reconnect=FAST)
    async with live(THERE_AND_BACK, TRIAGE, options=options) as t:
        t.sim.faults.drop_after_event("response.done", count=1, code=1011)
        await t.session.send_text("a question about my invoice")
        first = await _settled(t)
        assert first.text == "Invoice A-7 is 42."
        assert len(t.sim.connections) == 2
        restored = _session_updates(t, 1)[0]["session"]
        assert restored["instructions"] == BILLING.instructions
        assert [tool["name"] for tool in restored["tools"]] == ["get_invoice", "transfer_back"]
        assert len(t.events.of(HandoffOccurred)) == 1
        outputs = [
            e["item"]["call_id"]
            for c in t.sim.connections
            for e in c.received.of_type("conversation.item.create")
            if e["item"]["type"] == "function_call_output"
        ]
        calls = {e.call_id for e in t.events.of(ToolCallFinished)}
        assert sorted(set(outputs)) == sorted(calls)  # every call answered, none run twice
        assert len(t.events.of(ToolCallFinished)) == 2

        await t.session.send_text("thanks, that's all")
        second = await _settled(t, 2)
        assert second.text == "Triage again: anything else?"
        assert t.session.agent is TRIAGE


LOOP = (
    Scenario()
    .on("loop")
    .call("transfer_to_billing", reason="first")
    .then()
    .call("transfer_back")
    .then()
    .call("transfer_to_billing", reason="again")
    .then()
    .call("transfer_back")
    .say(lambda out: f"stopped: {out.raw('transfer_back')}")
    .scenario
)


@pytest.mark.parametrize("drop", [False, True], ids=["steady", "dropped-socket"])
async def test_a_transfer_loop_stops_at_the_cap(drop: bool) -> None:
    options = SessionOptions(max_handoffs_per_turn=3, reconnect=FAST)
    async with live(LOOP, TRIAGE, options=options) as t:
        if drop:
            t.sim.faults.drop_after_event("response.done", count=2, code=1011)
        await t.session.send_text("loop forever")
        final = await _settled(t)
        assert "handoff_limit" in final.text
        assert [e.target for e in t.events.of(HandoffOccurred)] == ["billing", "triage", "billing"]
        assert t.session.agent is BILLING  # the refused fourth transfer changed nothing
        refused = [e for e in t.events.of(ToolCallFinished) if e.error_type == "handoff_limit"]
        assert [e.name for e in refused] == ["transfer_back"]
        assert len(t.sim.connections) == (2 if drop else 1)


async def test_the_approval_hook_can_veto_a_transfer() -> None:
    def approve(request: ToolCallRequest) -> Approval:
        if request.name.startswith("transfer_"):
            return Approval.deny("transfers are closed tonight")
        return Approval.allow()

    scenario = (
        Scenario()
        .on("invoice")
        .call("transfer_to_billing", reason="invoice")
        .say(lambda out: f"no: {out.raw('transfer_to_billing')}")
    )
    async with live(scenario, TRIAGE, options=SessionOptions(approve=approve)) as t:
        await t.session.send_text("my invoice")
        final = await _settled(t)
        assert "transfers are closed tonight" in final.text
        assert t.session.agent is TRIAGE
        assert t.events.of(HandoffOccurred) == []
        assert len(_session_updates(t)) == 1  # only the initial configuration


async def test_transfer_back_with_nobody_to_return_to_is_an_error_output() -> None:
    lone = Agent(name="lone", handoffs=[handoff_back()], modality="text")
    scenario = Scenario().on("back").call("transfer_back").say(lambda o: o.raw("transfer_back"))
    async with live(scenario, lone) as t:
        await t.session.send_text("go back")
        final = await _settled(t)
        assert "handoff_failed" in final.text
        assert t.session.agent is lone


async def test_the_voice_the_user_heard_is_kept_after_audio() -> None:
    speaking = TRIAGE.with_changes(modality="audio")
    scenario = (
        Scenario()
        .on("invoice")
        .say("Let me transfer you.")
        .call("transfer_to_billing", reason="invoice")
        .say("Billing here.")
    )
    async with live(scenario, speaking) as t:
        await t.session.send_text("my invoice")
        await _settled(t)
        update = _session_updates(t)[-1]["session"]
        assert update["instructions"] == BILLING.instructions
        assert update["audio"]["output"]["voice"] == "alloy"
        assert t.session.agent.voice == "alloy"
        assert t.session.agent.name == "billing"


def test_transfer_tools_are_real_tools_with_a_typed_input() -> None:
    schema = TRIAGE.toolset.get("transfer_to_billing")
    assert schema is not None
    parameters = schema.parameters
    assert parameters["required"] == ["reason"]
    assert parameters["properties"]["reason"]["description"] == "why the caller needs billing"
    assert [t["name"] for t in TRIAGE.session_config().tools or ()] == ["transfer_to_billing"]
    named = handoff(BILLING, tool_name="to_accounts", description="Money matters.")
    assert named.tool.schema()["description"] == "Money matters."
    assert handoff(Agent(name="Tier 2 support")).tool_name == "transfer_to_Tier_2_support"


def test_bad_handoff_definitions_fail_at_construction() -> None:
    with pytest.raises(ToolDefinitionError):
        handoff(BILLING, tool_name="no spaces allowed")
    with pytest.raises(TypeError, match="handoffs takes agents"):
        Agent(handoffs=["billing"])  # type: ignore[list-item]
    clash = tool(name="transfer_to_billing")(lambda: "x")
    with pytest.raises(ToolDefinitionError, match="duplicate"):
        Agent(tools=[clash], handoffs=[BILLING])


async def test_with_changes_keeps_one_transfer_tool_per_handoff() -> None:
    changed = TRIAGE.with_changes(instructions="other")
    assert changed.toolset.names == ("transfer_to_billing",)
    await asyncio.sleep(0)
    assert TIMEOUT > 0
