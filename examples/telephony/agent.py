"""The phone agent: its tools, what each call hands them, and the simulator's script."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agentkit import Agent, CallControl, IncomingCall, ToolContext, tool
from agentkit.testing import Scenario, ToolOutputs

__all__ = ["CUSTOMER_HEADER", "PhoneCall", "agent", "scenario"]

logger = logging.getLogger("examples.telephony")

CUSTOMER_HEADER = "X-Customer-Id"
"""The SIP header the trunk sets to the caller's customer id (after its own caller check)."""

_ORDERS = {
    "42": {"customer": "c-77", "status": "shipped yesterday, arriving Friday"},
    "43": {"customer": "c-77", "status": "being packed"},
    "51": {"customer": "c-90", "status": "delivered on Monday"},
}


@dataclass
class PhoneCall:
    """One call, as its tools see it (``ToolContext.deps``).

    Attributes:
        incoming: the verified webhook: the ``call_id`` and the caller's SIP headers.
        control: accepts, transfers and hangs up calls.
        transfer_to: where ``transfer_to_human`` sends the caller (``tel:`` or ``sip:``).
        report: where the call's story goes, one line at a time.
        ending: the agent decided to end the call; it is hung up once its last words are said.
    """

    incoming: IncomingCall
    control: CallControl
    transfer_to: str
    report: Callable[[str], None] = logger.info
    ending: bool = False
    transferred_to: list[str] = field(default_factory=list)

    @property
    def call_id(self) -> str:
        return self.incoming.call_id

    @property
    def customer(self) -> str | None:
        return self.incoming.header(CUSTOMER_HEADER)

    async def transfer(self) -> None:
        await self.control.refer(self.call_id, self.transfer_to)
        self.transferred_to.append(self.transfer_to)
        self.report(f"refer {self.call_id} -> {self.transfer_to}")
        self.ending = True  # our leg leaves the call once the caller heard why


@tool
def lookup_order(ctx: ToolContext[PhoneCall], order_id: str) -> str:
    """The status of one of the caller's orders.

    Args:
        order_id: the order number the caller typed on the keypad or said.
    """
    customer = ctx.deps.customer
    if customer is None:
        return "The caller's customer account is unknown: offer to transfer them to a person."
    order = _ORDERS.get(order_id.strip())
    if order is None or order["customer"] != customer:
        return f"No order {order_id} on this caller's account."
    return f"Order {order_id}: {order['status']}."


@tool
async def transfer_to_human(ctx: ToolContext[PhoneCall]) -> str:
    """Transfer the caller to a person at the front desk, when they ask for one."""
    await ctx.deps.transfer()
    return "Transfer started: tell the caller they are being put through, then stop."


@tool
def end_call(ctx: ToolContext[PhoneCall]) -> str:
    """End the call when the caller is done."""
    ctx.deps.ending = True
    return "The call ends after your goodbye."


agent = Agent(
    name="front-desk",
    instructions=(
        "You answer the phone for Acme's order line. Ask callers to type order numbers on the "
        "keypad followed by the hash key, then look them up with lookup_order. If they ask for "
        "a person, call transfer_to_human. When they are done, say goodbye and call end_call. "
        "Keep every answer to one or two short sentences."
    ),
    tools=[lookup_order, transfer_to_human, end_call],
)


def _typed_order(outputs: ToolOutputs) -> dict[str, str]:
    typed = re.search(r"typed (\S+) on", outputs.user_text)
    return {"order_id": typed[1] if typed else ""}


def _order_answer(outputs: ToolOutputs) -> str:
    return str(outputs["lookup_order"])


# What the simulator's scripted model does with this agent (--simulate and the tests).
scenario = (
    Scenario()
    .on("order")
    .say("Please type your order number on the keypad, then press the hash key.")
    .on("keypad")
    .call("lookup_order", _typed_order)
    .then()
    .say(_order_answer)
    .on("person")
    .call("transfer_to_human")
    .then()
    .say("I'm putting you through to a colleague now. Goodbye!")
    .on("bye")
    .call("end_call")
    .then()
    .say("Thanks for calling Acme. Goodbye!")
    .otherwise("I can look up an order or put you through to a person.")
)
