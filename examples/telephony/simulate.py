"""``python -m examples.telephony --simulate``: one phone call, start to end, offline.

The simulator plays the realtime service and the phone line: it posts a signed
``realtime.call.incoming`` webhook to the app (served by uvicorn on a free 127.0.0.1 port),
the app accepts the call and attaches its agent to the sideband, the scripted caller speaks and
types an order number on the keypad, the agent looks the order up, transfers the caller to a
person (SIP REFER) and hangs up. The same webhook posted again is refused as a replay.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import uvicorn

from agentkit import CallControl, Endpoint, WebhookVerifier
from agentkit.testing import Simulator
from examples.telephony.agent import CUSTOMER_HEADER, scenario
from examples.telephony.app import WEBHOOK_PATH, Switchboard, create_app

__all__ = ["CALLER", "serve", "simulate"]

T = TypeVar("T")

STEP_TIMEOUT = 30.0
"""Seconds any one step of the call may take before the run gives up."""

CALLER = [
    ("From", '"Ada" <sip:+15550001111@carrier.example>'),
    ("To", "<sip:+18005550199@acme.example>"),
    (CUSTOMER_HEADER, "c-77"),
]
"""The INVITE's headers: the trunk vouches for the customer id."""


@asynccontextmanager
async def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in this event loop; yield its base URL.

    The socket listens before uvicorn starts, so a request may come at once: it waits in the
    backlog until the app's startup is done.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, STEP_TIMEOUT)
        sock.close()


async def simulate(report: Callable[[str], None] = print) -> bool:
    """Play one call against the simulator, reporting each step; ``True`` if it went as
    scripted (accepted, the order found, transferred, hung up, the replay refused)."""
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.openai_url(), credential=sim.api_key)
        control = CallControl(endpoint, api_base_url=sim.calls.api_base)
        verifier = WebhookVerifier(sim.calls.webhook_secret)
        board = Switchboard(endpoint, control, verifier, report=report)
        async with serve(create_app(board)) as base:
            url = base + WEBHOOK_PATH
            report(f"the phone rings: the service posts realtime.call.incoming to {url}")
            delivery = await sim.calls.incoming_call(url, sip_headers=CALLER)
            report(f"webhook answered HTTP {delivery.status}")
            line = board.lines.get(delivery.call_id)
            if delivery.status != 200 or line is None:
                return False
            await _step(line.attached.wait())
            await sim.calls.caller_says(delivery.call_id, "Hi, I'm calling about my order.")
            await _step(line.next_reply())
            await sim.press_keys("42#")
            await _step(line.next_reply())
            await sim.calls.caller_says(delivery.call_id, "Thanks. Can I talk to a person?")
            await _step(line.ended())

            again = await sim.calls.deliver(url, delivery.body, delivery.headers)
            report(f"the same webhook posted again: HTTP {again} (a replay, refused)")
        call = sim.calls.calls[delivery.call_id]
        report(f"the service's view: call {call.status}, transferred to {call.referred_to}")
        return call.status == "ended" and call.referred_to == [board.transfer_to] and again == 400


async def _step(waiting: Awaitable[T]) -> T:
    return await asyncio.wait_for(waiting, STEP_TIMEOUT)
