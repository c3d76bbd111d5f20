"""Shared pieces of the call tests: the agent, its scenario, and the canary key."""

from __future__ import annotations

import asyncio
from typing import Any

from agentkit import Agent, ToolContext, tool
from agentkit.testing import Scenario, Simulator

CANARY_KEY = "sk-canary-0f9e8d7c6b5a4f3e2d1c"
"""The long-lived key: it must show up in nothing a browser gets and in no log."""

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


class Gate:
    """Holds a tool until the test opens it (no sleeps)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.entered = asyncio.Event()
        self.runs = 0


def order_agent(gate: Gate | None = None) -> Agent:
    @tool
    async def order_status(ctx: ToolContext[Any], order_id: str) -> str:
        """Where an order is."""
        if gate is not None:
            gate.runs += 1
            gate.entered.set()
            await gate.opened.wait()
        return f"order {order_id} shipped"

    return Agent(name="orders", instructions="Help callers with orders.", tools=[order_status])


def order_scenario() -> Scenario:
    return (
        Scenario()
        .on("order")
        .call("order_status", order_id="42")
        .then()
        .say("Your order shipped.")
        .scenario
    )


def simulator(scenario: Scenario | None = None) -> Simulator:
    return Simulator(scenario or order_scenario(), api_key=CANARY_KEY)
