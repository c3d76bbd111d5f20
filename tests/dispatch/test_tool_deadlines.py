"""One watchdog timer serves every running call of a session; no deadline may slip."""

from __future__ import annotations

import asyncio

from agentkit.agent import Agent
from agentkit.events import ToolCallFinished
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session
from agentkit.tools import tool
from agentkit.transport import MemoryTransport
from tests.support import TIMEOUT


@tool(timeout=0.1)
async def short() -> str:
    """Hangs past its 0.1 s limit."""
    await asyncio.sleep(TIMEOUT)
    return "never"


@tool(timeout=0.5)
async def medium() -> str:
    """Hangs past its 0.5 s limit."""
    await asyncio.sleep(TIMEOUT)
    return "never"


@tool(timeout=2.0)
async def long() -> str:
    """Hangs past its 2 s limit."""
    await asyncio.sleep(TIMEOUT)
    return "never"


def _call_done(name: str) -> dict[str, object]:
    item = {
        "id": f"item_{name}",
        "type": "function_call",
        "status": "completed",
        "name": name,
        "call_id": f"call_{name}",
        "arguments": "{}",
    }
    return {"type": "response.output_item.done", "response_id": "resp_1", "item": item}


async def test_a_call_started_after_a_timeout_does_not_push_back_an_earlier_deadline() -> None:
    """After the watchdog fires for ``short`` it waits for ``medium``; ``long``, started later
    with a later deadline, must not move that wait to its own deadline."""
    transport = MemoryTransport()
    transport.push({"type": "session.created", "session": {"id": "sess_1"}})

    async def connector() -> MemoryTransport:
        return transport

    agent = Agent(tools=[short, medium, long])
    session = Session(agent, connector=connector, dialect=Dialect.GA)
    starting = asyncio.ensure_future(session.start())
    await asyncio.wait_for(transport.next_sent(), TIMEOUT)  # session.update
    transport.push({"type": "session.updated", "session": {"id": "sess_1"}})
    await asyncio.wait_for(starting, TIMEOUT)

    transport.push({"type": "response.created", "response": {"id": "resp_1"}})
    transport.push(_call_done("short"))
    transport.push(_call_done("medium"))
    finished: dict[str, ToolCallFinished] = {}

    async def collect() -> None:
        async for event in session.events():
            if isinstance(event, ToolCallFinished):
                finished[event.name] = event
                if event.name == "short":  # the watchdog has fired once: start the long call
                    transport.push(_call_done("long"))
                if event.name == "medium":
                    return

    await asyncio.wait_for(collect(), TIMEOUT)
    await session.close()
    assert finished["short"].error_type == "timeout"
    assert finished["medium"].error_type == "timeout"
    assert finished["medium"].duration_s < 1.5  # 0.5 s limit; the bug waited for long's 2 s
