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

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace import StatusCode

from agentkit.agent import Agent
from agentkit.events import ResponseFinished, ToolCallFinished
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session
from agentkit.tools import Tool, tool
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


class StartedSpans(SpanProcessor):
    """The names of the spans the SDK has started, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.names.append(span.name)


class ChunkTransport(MemoryTransport):
    """Pushes frames the way ``WebSocketTransport`` does: a chunk of frames, then its end.
    Notes which spans the SDK had started when each batch of replies was written."""

    def __init__(self, started: StartedSpans | None = None) -> None:
        super().__init__()
        self.listener: Callable[[str | bytes], None] | None = None
        self.chunk_end: Callable[[], None] | None = None
        self.listening = asyncio.Event()
        self.started = started
        self.started_when_written: list[tuple[list[str], list[str]]] = []

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
        if self.started is not None:
            types = [json.loads(frame)["type"] for frame in frames]
            self.started_when_written.append((types, list(self.started.names)))


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


async def started(
    telemetry: Telemetry, transport: ChunkTransport | None = None, *tools: Tool[Any, Any]
) -> tuple[Session, ChunkTransport]:
    transport = transport or ChunkTransport()

    async def connector() -> ChunkTransport:
        assert transport is not None
        return transport

    agent = Agent(tools=[noop, broken, *tools])
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


async def test_the_replies_go_out_before_the_sdk_starts_the_rounds_spans(
    telemetry: Telemetry,
) -> None:
    """Starting a span is the costliest part of tracing a round; it waits for the replies."""
    processor = StartedSpans()
    telemetry.tracer_provider.add_span_processor(processor)
    session, transport = await started(telemetry, ChunkTransport(processor))
    await session.create_response()
    transport.deliver(*tool_round(1))
    await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    await session.close()

    (when_written,) = [
        names
        for types, names in transport.started_when_written
        if types == ["conversation.item.create", "response.create"]
    ]
    assert [name for name in when_written if name.startswith(("chat", "execute_tool"))] == []
    assert processor.names[-2:] == ["chat", "execute_tool noop"]  # the parent first
    tool_span = telemetry.one("execute_tool")
    assert parent_id(tool_span) == span_id(telemetry.one("chat"))


async def test_a_tools_own_spans_and_attributes_land_in_its_execute_tool_span(
    telemetry: Telemetry,
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("the tool")

    @tool
    async def lookup() -> str:
        """Traces its own work."""
        trace.get_current_span().set_attribute("lookup.cache", "miss")
        with tracer.start_as_current_span("lookup.query"):
            return "found"

    session, transport = await started(telemetry, None, lookup)
    await session.create_response()
    transport.deliver(*tool_round(1, "lookup"))
    await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    await session.close()

    tool_span, query = telemetry.one("execute_tool lookup"), telemetry.one("lookup.query")
    assert parent_id(query) == span_id(tool_span)
    assert parent_id(tool_span) == span_id(telemetry.one("chat"))
    assert attributes(tool_span)["lookup.cache"] == "miss"
    assert query.start_time is not None and tool_span.start_time is not None
    assert tool_span.start_time <= query.start_time


async def test_a_response_whose_tool_still_runs_ends_after_the_tools_output(
    telemetry: Telemetry,
) -> None:
    processor = StartedSpans()
    telemetry.tracer_provider.add_span_processor(processor)
    release = asyncio.Event()

    @tool
    async def slow() -> str:
        """Answers when the test lets it."""
        await release.wait()
        return "late"

    session, transport = await started(telemetry, ChunkTransport(processor), slow)
    await session.create_response()
    transport.deliver(*tool_round(1, "slow"))
    await asyncio.wait_for(session.wait_for(ResponseFinished), TIMEOUT)
    assert [name for name in processor.names if name.startswith(("chat", "execute"))] == []
    release.set()
    await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    await session.close()

    (when_written,) = [
        names
        for types, names in transport.started_when_written
        if types == ["conversation.item.create", "response.create"]
    ]
    assert [name for name in when_written if name.startswith(("chat", "execute"))] == []
    chat, tool_span = telemetry.one("chat"), telemetry.one("execute_tool slow")
    assert parent_id(tool_span) == span_id(chat)
    assert chat.end_time is not None and tool_span.end_time is not None
    assert chat.end_time <= tool_span.end_time  # timed at its response.done, before the output
    duration = histogram(
        telemetry.points("gen_ai.client.operation.duration"), {"gen_ai.operation.name": "chat"}
    )
    assert duration.count == 1
