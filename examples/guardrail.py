"""Guardrails: one on the agent's words as they stream, one on a tool's calls.

The output guardrail reads the reply while it is spoken and stops it at the first card
number: the response is cancelled, what the caller has not heard is cut, and a recovery
response apologises instead. The input guardrail refuses refunds over 500 before the tool (or
the approval hook) runs; the model gets the guardrail's message as the call's output.

    agentkit run examples/guardrail.py --simulate --say "read me the card on file" \
        --say "refund 900 euros"
"""

from __future__ import annotations

import json
import re

from agentkit import (
    Agent,
    GuardrailVerdict,
    ToolCallRequest,
    input_guardrail,
    output_guardrail,
    tool,
)
from agentkit.testing import Scenario

_CARD_NUMBER = re.compile(r"\b(?:\d[ -]?){13,19}\b")


@output_guardrail(every_chars=40)
async def no_card_numbers(text: str) -> GuardrailVerdict | None:
    """Never read a card number aloud (quick and non-blocking, so a coroutine)."""
    if _CARD_NUMBER.search(text):
        return GuardrailVerdict.trip("a card number was about to be read out")
    return None


@input_guardrail(tools=["refund"])
async def refunds_under_limit(request: ToolCallRequest) -> GuardrailVerdict | None:
    """Large refunds need a person."""
    amount = json.loads(request.arguments).get("amount_eur", 0)
    if amount > 500:
        return GuardrailVerdict.trip(
            "refunds over 500 euros need a person: offer to open a ticket instead",
            details={"amount_eur": amount},
        )
    return None


@tool
def refund(amount_eur: float) -> str:
    """Refund the caller.

    Args:
        amount_eur: how much to refund, in euros.
    """
    return f"refunded {amount_eur:.2f} euros"


agent = Agent(
    name="support",
    instructions="You are a support agent. Never read out card numbers.",
    tools=[refund],
    input_guardrails=[refunds_under_limit],
    output_guardrails=[no_card_numbers],
)


def _refund(outputs: object) -> str:
    result = outputs["refund"]  # type: ignore[index]
    if isinstance(result, dict) and "error" in result:
        return "I can't refund that much myself; shall I open a ticket for you?"
    return f"Done: {result}."


# What the simulator's scripted "model" does with this agent (used by --simulate and the tests).
scenario = (
    Scenario()
    .on("card")
    .say("The card on file is 4111 1111 1111 1111, expiring in May.")
    .say("Sorry, I can't read card details aloud. I can tell you it ends in 1111.")
    .on("refund")
    .call("refund", amount_eur=900)
    .say(_refund)
    .otherwise("I can help with refunds and your card on file.")
)
