"""Hand-offs and guardrails in traces: the transfer and the refused call are tool spans, a
transfer is an event of the session's span, an output guardrail's trip one of the response's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentkit import Agent, GuardrailVerdict, ToolCallRequest, handoff, input_guardrail
from agentkit.events import ResponseFinished
from agentkit.testing import Scenario
from tests.composition.test_guardrails import GUARDED, RECOVERED, SCENARIO
from tests.dispatch.loopback import live
from tests.tracing.otel import Telemetry


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    recorded = Telemetry()
    yield recorded
    recorded.shutdown()


BILLING = Agent(name="billing", instructions="Billing.", modality="text")


@input_guardrail
def nothing_to_billing(request: ToolCallRequest) -> GuardrailVerdict | None:
    return GuardrailVerdict.trip("billing is closed") if "closed" in request.arguments else None


async def test_a_transfer_and_a_refused_call_are_traced(telemetry: Telemetry) -> None:
    triage = Agent(
        name="triage",
        handoffs=[handoff(BILLING, tool_name="to_billing")],
        input_guardrails=[nothing_to_billing],
        modality="text",
    )
    scenario = Scenario().on("bill").call("to_billing").say("Billing here.")
    async with live(scenario, triage, options=telemetry.options()) as t:
        await t.session.send_text("my bill")
        await t.events.wait_for(ResponseFinished, lambda e: e.text == "Billing here.")
    span = telemetry.one("execute_tool to_billing")
    attributes = dict(span.attributes or {})
    assert attributes["agentkit.handoff.source"] == "triage"
    assert attributes["agentkit.handoff.target"] == "billing"
    assert "agentkit.guardrail.tripped" not in attributes


async def test_an_input_guardrail_trip_marks_the_tool_span(telemetry: Telemetry) -> None:
    triage = Agent(
        name="triage",
        handoffs=[handoff(BILLING, tool_name="to_billing")],
        input_guardrails=[nothing_to_billing],
        modality="text",
    )
    scenario = (
        Scenario()
        .on("bill")
        .call("to_billing", '{"note": "closed"}')
        .say(lambda out: out.raw("to_billing"))
    )
    async with live(scenario, triage, options=telemetry.options()) as t:
        await t.session.send_text("my bill")
        await t.events.wait_for(ResponseFinished, lambda e: "billing is closed" in e.text)
        assert t.session.agent is triage
    span = telemetry.one("execute_tool to_billing")
    attributes = dict(span.attributes or {})
    assert attributes["agentkit.guardrail.tripped"] == "nothing_to_billing"
    assert "agentkit.handoff.target" not in attributes
    assert attributes["error.type"] == "guardrail"


async def test_an_output_guardrail_trip_is_an_event_of_the_response_it_cut(
    telemetry: Telemetry,
) -> None:
    async with live(SCENARIO, GUARDED, options=telemetry.options(), stream_delay=0.005) as t:
        await t.session.send_text("what are the codes?")
        await t.events.wait_for(ResponseFinished, lambda e: e.text == RECOVERED)
    cut = [
        span
        for span in telemetry.named("chat")
        if (span.attributes or {}).get("agentkit.guardrail.tripped") == "no_secrets"
    ]
    assert len(cut) == 1
    (tripped,) = [e for e in cut[0].events if e.name == "agentkit.guardrail_tripped"]
    assert (tripped.attributes or {})["agentkit.guardrail.name"] == "no_secrets"


async def test_a_handoff_is_an_event_of_the_session_span(telemetry: Telemetry) -> None:
    triage = Agent(name="triage", handoffs=[handoff(BILLING)], modality="text")
    scenario = Scenario().on("bill").call("transfer_to_billing").say("Billing here.")
    async with live(scenario, triage, options=telemetry.options()) as t:
        await t.session.send_text("my bill")
        await t.events.wait_for(ResponseFinished, lambda e: e.text == "Billing here.")
    (moved,) = [
        e for e in telemetry.one("invoke_agent triage").events if e.name == "agentkit.handoff"
    ]
    attributes = dict(moved.attributes or {})
    assert attributes["agentkit.handoff.source"] == "triage"
    assert attributes["agentkit.handoff.target"] == "billing"
    assert attributes["agentkit.handoff.back"] is False
