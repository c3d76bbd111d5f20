"""examples/support.py: pydantic-model parameters, ToolContext deps, a tool that fails."""

from __future__ import annotations

from typing import Any

from agentkit.events import ToolCallFinished, ToolCallStarted, TranscriptDone
from tests.examples.helpers import ask, load_example, of_type, simulated_session

support = load_example("support")
TEXT = support.agent.with_changes(modality="text", turn_detection=None)


def fresh_deps() -> Any:
    return support.SupportDeps(customer_id="C-17", orders=dict(support.deps.orders))


def test_context_is_injected_not_in_the_schema() -> None:
    schemas = {schema["name"]: schema for schema in support.agent.toolset.schemas()}
    assert schemas["lookup_order"]["parameters"]["required"] == ["order_id"]
    refund = schemas["request_refund"]["parameters"]["properties"]["request"]
    assert refund["properties"]["reason"]["enum"][0] == "damaged"
    assert "ctx" not in str(schemas)


async def test_order_lookup_uses_the_callers_deps() -> None:
    deps = fresh_deps()
    async with simulated_session(support, agent=TEXT, deps=deps) as (session, _):
        mine = await ask(session, "Where is my order A-1001?")
        theirs = await ask(session, "And A-1002?")
    assert [(e.name, e.arguments) for e in of_type(mine, ToolCallStarted)] == [
        ("lookup_order", '{"order_id": "A-1001"}')
    ]
    assert of_type(mine, TranscriptDone)[-1].text == "Order A-1001 (kettle, teapot) is delivered."
    refused = of_type(theirs, ToolCallFinished)[0]
    assert refused.is_error and "no order A-1002 for this customer" in refused.output
    assert (
        of_type(theirs, TranscriptDone)[-1].text == "I could not find that order on your account."
    )


async def test_refund_receives_a_validated_model() -> None:
    deps = fresh_deps()
    async with simulated_session(support, agent=TEXT, deps=deps) as (session, _):
        events = await ask(session, "I want a refund for A-1001, it arrived broken")
    (request,) = deps.refunds
    assert isinstance(request, support.RefundRequest)
    assert (request.order_id, request.reason, request.items) == ("A-1001", "damaged", ["kettle"])
    finished = of_type(events, ToolCallFinished)[0]
    assert finished.output == '{"order_id":"A-1001","items":["kettle"],"amount_eur":44.5}'
    assert of_type(events, TranscriptDone)[-1].text.startswith("Done: 44.50 EUR")


async def test_failing_tool_is_reported_safely_and_a_ticket_follows() -> None:
    deps = fresh_deps()
    async with simulated_session(support, agent=TEXT, deps=deps) as (session, sim):
        events = await ask(session, "Is my kettle SN-4417 under warranty?")
    failed, ticket = of_type(events, ToolCallFinished)
    assert (failed.name, failed.is_error, failed.error_type) == (
        "check_warranty",
        True,
        "tool_error",
    )
    assert "the warranty system is unavailable" in failed.output
    assert "warranty-db.internal" not in failed.output  # error_message hides the internals
    sent_outputs = [e["item"]["output"] for e in sim.received if e.get("item", {}).get("output")]
    assert not any("warranty-db" in output for output in sent_outputs)
    assert ticket.name == "create_ticket" and deps.tickets[0].priority is support.Priority.NORMAL
    assert of_type(events, TranscriptDone)[-1].text.endswith("I opened ticket T-0001.")
