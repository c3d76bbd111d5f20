"""The dispatcher's replies go out before the application's event handling runs."""

from __future__ import annotations

import asyncio

from agentkit.agent import Agent
from agentkit.events import ResponseStarted
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session
from agentkit.tools import tool
from agentkit.transport import MemoryTransport
from tests.support import TIMEOUT


@tool
async def noop() -> str:
    """Answers at once."""
    return "ok"


def _frames(n: int) -> list[dict[str, object]]:
    call = {
        "id": f"item_{n}",
        "type": "function_call",
        "status": "completed",
        "name": "noop",
        "call_id": f"call_{n}",
        "arguments": "{}",
    }
    response = {"id": f"resp_{n}", "status": "in_progress"}
    done = {**response, "status": "completed", "output": [call]}
    return [
        {"type": "response.created", "response": response},
        {"type": "response.output_item.done", "response_id": f"resp_{n}", "item": call},
        {"type": "response.done", "response": done},
    ]


async def test_a_waiting_reader_wakes_after_the_tool_round_is_answered() -> None:
    transport = MemoryTransport()
    transport.push({"type": "session.created", "session": {"id": "sess_1"}})

    async def connector() -> MemoryTransport:
        return transport

    session = Session(Agent(tools=[noop]), connector=connector, dialect=Dialect.GA)
    starting = asyncio.ensure_future(session.start())
    await asyncio.wait_for(transport.next_sent(), TIMEOUT)  # session.update
    transport.push({"type": "session.updated", "session": {"id": "sess_1"}})
    await asyncio.wait_for(starting, TIMEOUT)
    async for event in session.events():  # drain the start-up events
        if event.type == "session_ready":
            break

    seen_sent: list[int] = []

    async def reader() -> None:
        async for event in session.events():  # the first event after the frames arrive
            assert isinstance(event, ResponseStarted) and event.response_id == "resp_1"
            seen_sent.append(len(transport.sent))
            return

    waiting = asyncio.ensure_future(reader())
    await asyncio.sleep(0)  # the reader is waiting before the frames arrive
    sent_before = len(transport.sent)
    for frame in _frames(1):
        transport.push(frame)
    await asyncio.wait_for(waiting, TIMEOUT)
    # By the time the application first hears of the response, the output and the follow-up
    # response.create have been written.
    assert seen_sent == [sent_before + 2]
    await session.close()
