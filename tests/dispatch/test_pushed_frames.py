"""A transport that pushes frames (``listen``) gets the dispatcher's replies written from inside
its callback, unless its write buffer is full."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from agentkit.agent import Agent
from agentkit.errors import ConnectionClosedError
from agentkit.events import (
    ErrorOccurred,
    Event,
    Interrupted,
    ResponseFinished,
    ResponseStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session
from agentkit.tools import ToolContext, tool
from agentkit.transport import MemoryTransport
from tests.support import TIMEOUT


@tool
async def noop() -> str:
    """Answers at once."""
    return "ok"


class PushingTransport(MemoryTransport):
    """MemoryTransport plus the push capabilities of ``WebSocketTransport``."""

    def __init__(self) -> None:
        super().__init__()
        self.listener: Callable[[str | bytes], None] | None = None
        self.batch_end: Callable[[], None] | None = None
        self.listening = asyncio.Event()
        self.write_paused = False
        self.written_at_once: list[str] = []

    def listen(
        self, listener: Callable[[str | bytes], None], batch_end: Callable[[], None] | None = None
    ) -> bool:
        self.listener, self.batch_end = listener, batch_end
        self.listening.set()
        return True

    def deliver(self, *frames: dict[str, Any]) -> None:
        """The frames as one chunk read from the socket."""
        assert self.listener is not None
        for frame in frames:
            self.listener(json.dumps(frame))
        if self.batch_end is not None:
            self.batch_end()

    def send_now(self, frames: Sequence[str]) -> None:
        if self.closed:
            raise ConnectionClosedError(1006, "closed")
        self.written_at_once.extend(frames)
        self.sent.extend(frames)
        for frame in frames:
            self._outbox.put_nowait(frame)


def _round() -> list[dict[str, Any]]:
    call = {
        "id": "item_1",
        "type": "function_call",
        "status": "completed",
        "name": "noop",
        "call_id": "call_1",
        "arguments": "{}",
    }
    response = {"id": "resp_1", "status": "in_progress"}
    done = {**response, "status": "completed", "output": [call]}
    return [
        {"type": "response.created", "response": response},
        {"type": "response.output_item.done", "response_id": "resp_1", "item": call},
        {"type": "response.done", "response": done},
    ]


@pytest.fixture
async def started() -> AsyncIterator[tuple[Session, PushingTransport]]:
    session, transport = await _start(Agent(tools=[noop]))
    yield session, transport
    await session.close()


async def _start(agent: Agent) -> tuple[Session, PushingTransport]:
    """A started session on a pushing transport."""
    transport = PushingTransport()

    async def connector() -> PushingTransport:
        return transport

    session = Session(agent, connector=connector, dialect=Dialect.GA)
    starting = asyncio.ensure_future(session.start())
    await asyncio.wait_for(transport.next_sent(), TIMEOUT)  # session.update
    await asyncio.wait_for(transport.listening.wait(), TIMEOUT)
    transport.deliver({"type": "session.updated", "session": {"id": "sess_1"}})
    await asyncio.wait_for(starting, TIMEOUT)
    return session, transport


async def _answered_before_done(session: Session, transport: PushingTransport) -> int:
    """Deliver the call, let the tool answer, and return how many frames were sent so far."""
    created, item_done, _ = _round()
    transport.deliver(created)
    transport.deliver(item_done)
    await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    return len(transport.sent)


async def test_replies_are_written_before_the_callback_returns(
    started: tuple[Session, PushingTransport],
) -> None:
    session, transport = started
    sent_before = await _answered_before_done(session, transport)
    transport.deliver(_round()[2])  # response.done: the output and response.create, at once
    types = [json.loads(frame)["type"] for frame in transport.sent[sent_before:]]
    assert types == ["conversation.item.create", "response.create"]
    assert transport.written_at_once[-2:] == transport.sent[-2:]


async def test_a_full_write_buffer_sends_through_the_awaiting_path(
    started: tuple[Session, PushingTransport],
) -> None:
    session, transport = started
    sent_before = await _answered_before_done(session, transport)
    transport.write_paused = True
    at_once_before = len(transport.written_at_once)
    transport.deliver(_round()[2])
    assert len(transport.sent) == sent_before  # nothing written inside the callback
    while len(transport.sent) < sent_before + 2:
        await asyncio.wait_for(transport.next_sent(), TIMEOUT)
    types = [json.loads(frame)["type"] for frame in transport.sent[sent_before:]]
    assert types == ["conversation.item.create", "response.create"]
    assert len(transport.written_at_once) == at_once_before


async def test_a_failure_inside_the_callback_is_reported_not_raised(
    started: tuple[Session, PushingTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception escaping into the transport's callback would drop the socket."""
    session, transport = started

    def broken_decode(frame: str | bytes) -> object:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr("agentkit.session.decode", broken_decode)
    transport.deliver(_round()[0])
    error = await asyncio.wait_for(session.wait_for(ErrorOccurred), TIMEOUT)
    assert error.code == "internal_error" and "decoder bug" in error.message
    assert not transport.closed


async def test_a_waiting_reader_wakes_once_the_chunk_is_handled_and_answered(
    started: tuple[Session, PushingTransport],
) -> None:
    session, transport = started
    async for event in session.events():  # drain the start-up events
        if event.type == "session_ready":
            break
    sent_before = len(transport.sent)
    firsts: list[tuple[str, int]] = []

    async def reader() -> None:
        async for event in session.events():
            firsts.append((event.type, len(transport.sent) - sent_before))
            if isinstance(event, ToolCallFinished):
                return

    reading = asyncio.ensure_future(reader())
    await asyncio.sleep(0)
    transport.deliver(*_round())  # the whole round in one chunk
    await asyncio.wait_for(reading, TIMEOUT)
    # The reader's first event comes after the output and response.create were written.
    assert firsts[0] == ("response_started", 2)


async def test_handlers_hear_of_a_chunk_once_its_replies_are_written(
    started: tuple[Session, PushingTransport],
) -> None:
    """The events are built and told after the write: the replies never wait for them."""
    session, transport = started
    sent_before = len(transport.sent)
    heard: list[tuple[str, int]] = []

    def note(event: Event) -> None:
        heard.append((event.type, len(transport.sent) - sent_before))

    for kind in (ResponseStarted, ToolCallStarted, ToolCallFinished, ResponseFinished):
        session.on(kind, note)
    transport.deliver(*_round())
    assert session.state._unrecorded is None  # the history was recorded after the write too
    await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    if sys.version_info >= (3, 11):  # the tool ran inside the chunk, eagerly
        assert heard == [
            ("response_started", 2),
            ("tool_call_started", 2),
            ("tool_call_finished", 2),
            ("response_finished", 2),
        ]
    else:  # the tool's task ran after the chunk, and wrote the replies
        assert heard == [
            ("response_started", 0),
            ("tool_call_started", 0),
            ("response_finished", 0),
            ("tool_call_finished", 2),
        ]


async def test_a_failing_handler_loses_neither_the_call_nor_the_later_events(
    started: tuple[Session, PushingTransport], caplog: pytest.LogCaptureFixture
) -> None:
    session, transport = started
    sent_before = len(transport.sent)
    heard: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("handler bug")

    session.on(ToolCallStarted, broken)
    session.on(ResponseFinished, lambda event: heard.append(event.type))
    transport.deliver(*_round())
    await asyncio.wait_for(session.wait_for(ToolCallFinished), TIMEOUT)
    while len(transport.sent) < sent_before + 2:
        await asyncio.wait_for(transport.next_sent(), TIMEOUT)
    types = [json.loads(frame)["type"] for frame in transport.sent[sent_before:]]
    assert types == ["conversation.item.create", "response.create"]
    assert heard == ["response_finished"]
    assert "an event handler failed" in caplog.text and "handler bug" in caplog.text
    assert not transport.closed


async def test_events_held_for_a_send_are_told_even_when_the_send_fails(
    started: tuple[Session, PushingTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    session, transport = started
    transport.deliver(_round()[0])  # a response is active: interrupting cancels it
    heard: list[str] = []
    session.on(Interrupted, lambda event: heard.append(event.type))

    def broken_write(self: Session) -> bool:
        raise RuntimeError("write bug")

    monkeypatch.setattr(Session, "_flush_now", broken_write)
    with pytest.raises(RuntimeError, match="write bug"):
        await session.interrupt()
    assert heard == ["interrupted"]
    monkeypatch.undo()
    cancelled = {"id": "resp_1", "status": "cancelled"}
    transport.deliver({"type": "response.done", "response": cancelled})
    assert session._told_later is None  # nothing stays held


@pytest.mark.parametrize("suspends_first", [False, True])
async def test_a_tool_can_hang_up(suspends_first: bool) -> None:
    """A tool that closes the session, at once (inside the chunk, on 3.11+) or after awaiting
    something (from its own task, registered as the call's): the close does not wait for the
    tool's own task, and comes after the events before it."""

    @tool
    async def hang_up(ctx: ToolContext[None]) -> str:
        """End the call."""
        if suspends_first:
            await asyncio.sleep(0)
        await ctx.session.close()
        return "bye"

    session, transport = await _start(Agent(tools=[hang_up]))
    created, item_done, _ = _round()
    transport.deliver(created, {**item_done, "item": {**item_done["item"], "name": "hang_up"}})
    seen: list[str] = []

    async def read() -> None:
        async for event in session.events():
            seen.append(event.type)
            if event.type == "session_closed":
                return

    await asyncio.wait_for(read(), TIMEOUT)
    assert seen.index("response_started") < seen.index("tool_call_started")
    assert seen.index("tool_call_started") < seen.index("session_closed")
    assert session.closed and transport.closed
