"""Hand-offs: a triage desk passes invoice questions to a billing agent, who passes them back.

Each target in ``handoffs`` becomes a transfer tool. When the model calls it, agentkit sends the
new agent's instructions and tools in one ``session.update`` before the call's output, so the
follow-up response is the new agent's; the history is kept. ``handoff_back()`` returns to
whoever handed over.

    agentkit run examples/handoff.py --simulate --say "I have a question about invoice A-7" \
        --say "thanks, that's all"
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentkit import Agent, SessionOptions, handoff, handoff_back, tool
from agentkit.testing import Scenario

_INVOICES = {"A-7": {"amount_eur": 42.0, "status": "paid"}}


@tool
def get_invoice(number: str) -> dict[str, object]:
    """An invoice's amount and status.

    Args:
        number: the invoice number, e.g. "A-7".
    """
    invoice = _INVOICES.get(number.upper())
    if invoice is None:
        raise LookupError(f"no invoice {number!r}")
    return {"number": number.upper(), **invoice}


class Reason(BaseModel):
    """What the transfer tool asks the model for."""

    reason: str = Field(description="what the caller needs from billing, in a few words")


billing = Agent(
    name="billing",
    instructions=(
        "You are the billing desk. Answer invoice questions with get_invoice. When the caller "
        "is done with billing, call transfer_back."
    ),
    tools=[get_invoice],
    handoffs=[handoff_back()],
)

agent = Agent(
    name="triage",
    instructions=(
        "You answer the phone for Example Corp. Transfer invoice and payment questions to "
        "billing; answer anything else yourself, briefly."
    ),
    handoffs=[handoff(billing, input_type=Reason)],
)

options = SessionOptions(max_handoffs_per_turn=3)


def _invoice(outputs: object) -> str:
    invoice = outputs["get_invoice"]  # type: ignore[index]
    if "error" in invoice:
        return "I could not find that invoice."
    return f"Invoice {invoice['number']} is {invoice['amount_eur']:.2f} euros, {invoice['status']}."


# What the simulator's scripted "model" does with these agents (used by --simulate and the tests).
scenario = (
    Scenario()
    .on("invoice")
    .say("Let me get billing for you.")
    .call("transfer_to_billing", reason="invoice question")
    .then()
    .call("get_invoice", number="A-7")  # billing's tool: declared once the transfer is done
    .say(_invoice)
    .on("thanks")
    .call("transfer_back")
    .say("You're back at the front desk. Anything else?")
    .otherwise("Example Corp, how can I help? Ask me about an invoice.")
)
