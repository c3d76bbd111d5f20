"""A tool round whose response.created, function call and response.done arrive in one socket read.

The session then writes the tool's output and the follow-up ``response.create`` before it tells
the application (and the tracer) that the response started. The spans must still nest, start
before they end, and pair each response with the request that asked for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.trace import StatusCode

from agentkit.agent import Agent
from agentkit.events import ToolCallFinished
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session
from agentkit.tools import tool
from agentkit.transport import MemoryTransport
from tests.support import TIMEOUT
from tests.tracing.otel import Telemetry, attributes, histogram, parent_id, span_id

USAGE = {"total_tokens": 12, "input_tokens": 10, "output_tokens": 2}


@tool
async def noop() -> str:
    """Answers at once."""
    return "ok"


@tool
async def broken() -> str:
    """Fails at once."""
    raise ValueError("broken at once")


class ChunkTransport(MemoryTransport):
    """Pushes frames the way ``WebSocketTransport`` does: a chunk of frames, then its end."""

    def __init__(self) -> None:
        super().__init__()
        self.listener: Callable[[str | bytes], None] | None = None
        self.chunk_end: Callable[[], None] | None = None
        self.listening = asyncio.Event()

    def listen(
        self, listener: Callable[[str | bytes], None], chunk_end: Callable[[], None] | None = None
    ) -> bool:
        self.listener, self.chunk_end = listener, chunk_end
        self.listening.set()
        return True

    def deliver(self, *frames: dict[str, Any]) -> None:
        assert self.listener is not None and self.chunk_end is not None
        for frame in frames:
            self.listener(json.dumps(frame))
        self.chunk_end()

    def send_now(self, frames: Sequence[str]) -> None:
        self.sent.extend(frames)


def tool_round(number: int, name: str = "noop") -> list[dict[str, Any]]:
    response_id = f"resp_{number}"
    call = {
        "id": f"item_{number}",
        "type": "function_call",
        "status": "completed",
        "name": name,
        "call_id": f"call_{number}",
        "arguments": "{}",
    }
    response = {"id": response_id, "status": "in_progress"}
    done = {**response, "status": "completed", "output": [call], "usage": USAGE}
    return [
        {"type": "response.created", "response": response},
        {"type": "response.output_item.done", "response_id": response_id, "item": call},
        {"type": "response.done", "response": done},
    ]


async def started(telemetry: Telemetry) -> tuple[Session, ChunkTransport]:
    transport = ChunkTransport()

    async def connector() -> ChunkTransport:
        return transport

    agent = Agent(tools=[noop, broken])
    session = Session(agent, connector=connector, dialect=Dialect.GA, options=telemetry.options())
    starting = asyncio.ensure_future(session.start())
    await asyncio.wait_for(transport.listening.wait(), TIMEOUT)
    transport.deliver({"type": "session.updated", "session": {"id": "sess_1"}})
    await asyncio.wait_for(starting, TIMEOUT)
    return session, transport


async def test_rounds_read_in_one_chunk_nest_and_pair_with_their_requests(
    telemetry: Telemetry,
) -> None:
    session, transport = await started(telemetry)
    await session.create_response()
    for number in (1, 2):
        transport.deliver(*tool_round(number))
        await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    await session.close()

    sent = [json.loads(frame)["type"] for frame in transport.sent]
    assert sent.count("response.create") == 3  # ours, and one follow-up per round
    session_span = telemetry.one("invoke_agent")
    chats = sorted(telemetry.named("chat"), key=lambda span: span.start_time or 0)
    tools = sorted(telemetry.named("execute_tool"), key=lambda span: span.start_time or 0)
    assert [attributes(chat)["gen_ai.response.id"] for chat in chats] == ["resp_1", "resp_2"]
    assert [parent_id(tool) for tool in tools] == [span_id(chat) for chat in chats]
    assert [parent_id(chat) for chat in chats] == [span_id(session_span)] * 2
    for chat in chats:
        assert chat.start_time is not None and chat.end_time is not None
        assert chat.start_time <= chat.end_time
        assert attributes(chat)["agentkit.response.trigger"] == "client"
        assert attributes(chat)["gen_ai.response.finish_reasons"] == ("completed",)
    assert [attributes(chat)["agentkit.response.round"] for chat in chats] == [0, 1]
    assert chats[0].end_time is not None and chats[1].start_time is not None
    assert chats[0].end_time <= chats[1].start_time  # the follow-up was asked after resp_1 ended
    duration = histogram(
        telemetry.points("gen_ai.client.operation.duration"), {"gen_ai.operation.name": "chat"}
    )
    assert duration.count == 2 and duration.min >= 0


async def test_a_tool_that_fails_at_once_marks_its_span(telemetry: Telemetry) -> None:
    """An async tool that raises before its first await has finished before the chunk's
    events (its ToolCallFinished among them) are told; its span still records the failure."""
    session, transport = await started(telemetry)
    await session.create_response()
    transport.deliver(*tool_round(1, "broken"))
    finished = await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    await session.close()

    assert finished.is_error
    span = telemetry.one("execute_tool broken")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "tool_error"
    durations = telemetry.points("gen_ai.execute_tool.duration")
    assert histogram(durations, {"gen_ai.tool.name": "broken", "error.type": "tool_error"})
