"""Hand-offs and input guardrails in traces: the transfer and the refused call are tool spans."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentkit import Agent, GuardrailVerdict, ToolCallRequest, handoff, input_guardrail
from agentkit.events import ResponseFinished
from agentkit.testing import Scenario
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
