"""Customer support: several tools, pydantic-model parameters, injected context, a failing tool.

The tools reach the shop's data through ``ToolContext[SupportDeps]``: the application decides
which customer is calling, and the model can neither see nor forge it (the context parameter is
not in the schema). ``check_warranty`` fails, and the model is told so in one safe sentence
(``error_message=``) instead of the exception's text; it then opens a ticket instead.

    agentkit run examples/support.py --simulate --say "Where is my order A-1001?"
    agentkit run examples/support.py --simulate --say "Refund A-1001, it arrived broken"
    agentkit run examples/support.py --simulate --say "Is my kettle SN-4417 under warranty?"
    agentkit tools examples/support.py          # the schemas, models inlined

``agentkit run`` passes the module-level ``deps`` to the session (``Session(..., deps=deps)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from agentkit import Agent, ToolContext, tool
from agentkit.testing import Scenario, ToolOutputs


class Order(BaseModel):
    order_id: str
    customer_id: str
    items: list[str]
    total_eur: float
    status: Literal["processing", "shipped", "delivered"]


class RefundRequest(BaseModel):
    """A refund the customer asked for."""

    order_id: Annotated[str, Field(pattern=r"^A-\d{4}$", description="e.g. A-1001")]
    reason: Literal["damaged", "wrong_item", "not_delivered", "changed_mind"]
    items: list[str] = Field(default_factory=list, description="refund only these; all if empty")


class Priority(str, Enum):
    LOW = "low"
    NORMAL = "normal"
    URGENT = "urgent"


class Ticket(BaseModel):
    """A case for a human colleague."""

    subject: Annotated[str, Field(max_length=80)]
    details: str
    priority: Priority = Priority.NORMAL


@dataclass
class SupportDeps:
    """What the application hands every tool: the caller and the shop's systems."""

    customer_id: str
    orders: dict[str, Order]
    tickets: list[Ticket] = field(default_factory=list)
    refunds: list[RefundRequest] = field(default_factory=list)


def _own_order(ctx: ToolContext[SupportDeps], order_id: str) -> Order:
    order = ctx.deps.orders.get(order_id)
    if order is None or order.customer_id != ctx.deps.customer_id:  # never other people's orders
        raise LookupError(f"no order {order_id} for this customer")
    return order


@tool
def lookup_order(order_id: str, ctx: ToolContext[SupportDeps]) -> Order:
    """Look up one of the caller's orders.

    Args:
        order_id: the order number, e.g. A-1001.
    """
    return _own_order(ctx, order_id)


@tool
def request_refund(request: RefundRequest, ctx: ToolContext[SupportDeps]) -> dict[str, object]:
    """Refund (part of) an order. Confirm the order and the reason with the caller first."""
    order = _own_order(ctx, request.order_id)
    if order.status != "delivered" and request.reason != "not_delivered":
        raise ValueError(f"order {order.order_id} is still {order.status}; it can be cancelled")
    items = request.items or order.items
    ctx.deps.refunds.append(request)
    share = len(items) / len(order.items)
    return {"order_id": order.order_id, "items": items, "amount_eur": order.total_eur * share}


@tool
def create_ticket(ticket: Ticket, ctx: ToolContext[SupportDeps]) -> dict[str, str]:
    """Open a case for a human colleague when you cannot solve the problem yourself."""
    ctx.deps.tickets.append(ticket)
    return {"ticket_id": f"T-{len(ctx.deps.tickets):04d}", "priority": ticket.priority.value}


@tool(error_message="the warranty system is unavailable; apologise and open a ticket instead")
async def check_warranty(serial_number: str) -> dict[str, object]:
    """Check whether a product is still under warranty.

    Args:
        serial_number: printed under the product, e.g. SN-4417.
    """
    raise ConnectionError("warranty-db.internal:5432 refused the connection")  # always down


agent = Agent(
    name="support",
    instructions=(
        "You are the customer support agent of a small kitchenware shop. Be brief and kind. "
        "Use the tools for anything about orders, refunds and warranties; when a tool fails, "
        "apologise and open a ticket."
    ),
    tools=[lookup_order, request_refund, create_ticket, check_warranty],
)

deps = SupportDeps(
    customer_id="C-17",
    orders={
        "A-1001": Order(
            order_id="A-1001",
            customer_id="C-17",
            items=["kettle", "teapot"],
            total_eur=89.0,
            status="delivered",
        ),
        "A-1002": Order(
            order_id="A-1002",
            customer_id="C-99",
            items=["pan"],
            total_eur=40.0,
            status="shipped",
        ),
    },
)


def _order_status(out: ToolOutputs) -> str:
    order = out["lookup_order"]
    if "error" in order:
        return "I could not find that order on your account."
    return f"Order {order['order_id']} ({', '.join(order['items'])}) is {order['status']}."


def _refund_result(out: ToolOutputs) -> str:
    refund = out["request_refund"]
    if "error" in refund:
        return "I could not refund that order."
    return f"Done: {refund['amount_eur']:.2f} EUR will be refunded for the {refund['items'][0]}."


# What the simulator's scripted "model" does with this agent (--simulate and the tests).
scenario = (
    Scenario()
    .on("refund")
    .call(
        "request_refund", request={"order_id": "A-1001", "reason": "damaged", "items": ["kettle"]}
    )
    .say(_refund_result)
    .on("warranty")
    .say("Let me check the warranty.")
    .call("check_warranty", serial_number="SN-4417")
    .then()
    .call(
        "create_ticket",
        ticket={"subject": "Warranty check for SN-4417", "details": "warranty system down"},
    )
    .say(
        lambda out: (
            f"The warranty system is down; I opened ticket {out['create_ticket']['ticket_id']}."
        )
    )
    .on("A-1002")
    .call("lookup_order", order_id="A-1002")
    .say(_order_status)
    .on("order")
    .call("lookup_order", order_id="A-1001")
    .say(_order_status)
    .otherwise("I can help with orders, refunds and warranties.")
)
