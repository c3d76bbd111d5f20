"""The agent behind the web page: an order-status assistant with one server-side tool.

Everything here is immutable and shared by every browser session; what differs per session is
the :class:`Caller` handed to tools as ``ToolContext.deps``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from agentkit import Agent, ToolContext, tool
from agentkit.testing import Scenario, ToolOutputs

__all__ = ["ORDERS", "Caller", "agent", "check_order", "offline_scenario"]

logger = logging.getLogger("examples.webapp")


@dataclass(frozen=True)
class Caller:
    """Who a browser session belongs to; one per WebSocket, never shared.

    Attributes:
        connection_id: a short random id, to tie log lines of one browser session together.
        client: the peer address as the ASGI server saw it (the proxy's, behind a proxy).
    """

    connection_id: str
    client: str


ORDERS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "A1001": MappingProxyType({"status": "shipped", "eta": "Thursday"}),
        "A1002": MappingProxyType({"status": "being packed", "eta": "next Monday"}),
    }
)
"""A stand-in for the shop's database (read-only, so sharing it between sessions is safe)."""


@tool
def check_order(order_id: str, ctx: ToolContext[Caller]) -> dict[str, str]:
    """Look up where an order is.

    Args:
        order_id: the order number the customer reads out, e.g. "A1001".
    """
    order = ORDERS.get(order_id.strip().upper())
    if order is None:
        raise LookupError(f"no order {order_id!r}")
    logger.info("[%s] check_order(%s) for %s", ctx.deps.connection_id, order_id, ctx.deps.client)
    return {"order_id": order_id, **order}


agent = Agent(
    name="orders",
    instructions=(
        "You are a friendly voice assistant for an online shop. When the customer asks about an "
        "order, call check_order with its number and tell them its status in one sentence."
    ),
    tools=[check_order],
)


def _report(outputs: ToolOutputs) -> str:
    order = outputs["check_order"]
    return f"Order {order['order_id']} is {order['status']} and should arrive {order['eta']}."


offline_scenario = Scenario().on_audio().call("check_order", order_id="A1001").say(_report).scenario
"""What the in-process simulator's scripted "model" does when no credentials are set: whatever
the user says, it looks up order A1001 and reads the result out."""
