"""``max_buffered_events`` over the simulator: a reader that falls behind loses nothing under
backpressure; with ``drop_oldest`` it is told, with a count, where events went."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from agentkit import Agent, SessionOptions, tool
from agentkit.events import (
    AudioDelta,
    Event,
    EventsDropped,
    Reconnected,
    Reconnecting,
    ResponseFinished,
    ToolCallFinished,
)
from agentkit.session import Session
from agentkit.testing import Scenario
from tests.dispatch.loopback import Live, live
from tests.support import TIMEOUT

LIMIT = 20
LONG = "A long answer that takes a while to say, " * 12  # about 20 s of audio: 200 chunks
AGENT = Agent(instructions="Talk.")
# The session's fast path (frames pushed from the protocol callback) and the plain one (recv()).
TRANSPORTS = {"listening": None, "recv": {"create_connection": ClientConnection}}


async def _until_finished(stream: AsyncIterator[Event], session: Session) -> list[Event]:
    async def collect() -> list[Event]:
        seen: list[Event] = []
        async for event in stream:
            seen.append(event)
            if isinstance(event, ResponseFinished) and session.idle:
                return seen
        raise AssertionError("the session closed first")

    return await asyncio.wait_for(collect(), TIMEOUT)


def _reading(session: Session) -> bool:
    """Whether the session's socket is being read (the listening transport's asyncio one)."""
    return bool(session._transport._ws.transport.is_reading())  # type: ignore[union-attr]


def _sent_audio(t: Live) -> list[str]:
    return [event["delta"] for event in t.conn.sent.of_type("response.output_audio.delta")]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_backpressure_loses_nothing_for_a_reader_that_stalls(transport: str) -> None:
    options = SessionOptions(max_buffered_events=LIMIT)
    scenario = Scenario().on("talk").say(LONG)
    async with live(scenario, AGENT, options=options, connect_options=TRANSPORTS[transport]) as t:
        stream = t.session.events()
        first = await stream.__anext__()  # an iterator is running; it stops reading here
        told_before = len(t.events.events)
        await t.session.send_text("talk")
        await t.events.until(lambda: len(t.events.events) - told_before >= LIMIT or None)
        stalled = len(t.events.events) - told_before
        if transport == "listening":
            assert not _reading(t.session), "the session stopped reading the socket"
            assert stalled <= LIMIT + 40  # at most one socket read (64 KiB) past the limit
        else:
            assert stalled <= LIMIT + 1  # recv() is simply not called again
        rest = await _until_finished(stream, t.session)
    got = [first, *rest]
    assert not [e for e in got if isinstance(e, EventsDropped)]
    audio = [e.data for e in got if isinstance(e, AudioDelta)]
    assert len(audio) > 5 * LIMIT and audio == _sent_audio(t)
    assert got == t.events.events[: len(got)]  # the iterator saw what the handlers saw


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_ask_awaited_while_the_iterator_reads_nothing_gets_its_answer(transport: str) -> None:
    """As when ``ask`` is awaited inside ``async for event in session``: the loop reads
    nothing until it returns. The session, already paused by backpressure, reads again for the
    ask's sake; the iterator then gets every event, none dropped."""
    options = SessionOptions(max_buffered_events=LIMIT)
    scenario = Scenario().on("talk").say(LONG).on("again").say("Once more: " + LONG)
    async with live(scenario, AGENT, options=options, connect_options=TRANSPORTS[transport]) as t:
        stream = t.session.events()
        first = await stream.__anext__()
        told_before = len(t.events.events)
        await t.session.send_text("talk")
        await t.events.until(lambda: len(t.events.events) - told_before >= LIMIT or None)
        if transport == "listening":
            assert not _reading(t.session)
        answer = await asyncio.wait_for(t.session.ask("again"), TIMEOUT)
        assert answer.text.strip() == ("Once more: " + LONG).strip()
        got = [first]
        async for event in stream:
            got.append(event)
            if len([e for e in got if isinstance(e, ResponseFinished)]) == 2:
                break
    assert not [e for e in got if isinstance(e, EventsDropped)]
    assert [e.data for e in got if isinstance(e, AudioDelta)] == _sent_audio(t)
    assert got == t.events.events[: len(got)]


async def test_drop_oldest_counts_the_drops_and_tells_the_iterator_where_they_were() -> None:
    options = SessionOptions(max_buffered_events=LIMIT, buffer_policy="drop_oldest")
    async with live(Scenario().on("talk").say(LONG), AGENT, options=options) as t:
        stream = t.session.events()
        await stream.__anext__()
        told_before = len(t.events.events)
        await t.session.send_text("talk")
        finished = await t.events.wait_for(ResponseFinished)  # it never stopped reading
        last = t.events.events.index(finished)
        rest = await _until_finished(stream, t.session)
    dropped = last + 1 - told_before - LIMIT
    assert dropped > 5 * LIMIT
    assert rest[0] == EventsDropped(count=dropped, total=dropped, limit=LIMIT)
    assert rest[1:] == t.events.events[last + 1 - LIMIT : last + 1]  # the newest LIMIT events


async def test_with_handlers_only_the_session_never_stalls_and_a_late_iterator_is_told() -> None:
    options = SessionOptions(max_buffered_events=LIMIT)  # backpressure, the default
    assert options.buffer_policy == "backpressure"
    async with live(Scenario().on("talk").say(LONG), AGENT, options=options) as t:
        await t.session.send_text("talk")
        finished = await t.events.wait_for(ResponseFinished)
        told = t.events.events.index(finished) + 1
        first = await asyncio.wait_for(t.session.events().__anext__(), TIMEOUT)
    assert first == EventsDropped(count=told - LIMIT, total=told - LIMIT, limit=LIMIT)


@tool
async def lookup(q: str) -> dict[str, Any]:
    """Look something up."""
    return {"q": q, "found": True}


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_a_slow_reader_delays_tool_calls_but_nothing_deadlocks_or_is_lost(
    transport: str,
) -> None:
    options = SessionOptions(max_buffered_events=3)
    scenario = Scenario().on("go").call("lookup", q="x").say(LONG)
    agent = Agent(instructions="Look up.", tools=[lookup])
    async with live(scenario, agent, options=options, connect_options=TRANSPORTS[transport]) as t:
        stream = t.session.events()
        await stream.__anext__()
        await t.session.send_text("go")

        async def slow() -> list[Event]:
            seen: list[Event] = []
            async for event in stream:
                seen.append(event)
                await asyncio.sleep(0)  # one loop pass per event: always behind the socket
                if isinstance(event, ResponseFinished) and t.session.idle:
                    return seen
            raise AssertionError("the session closed first")

        got = await asyncio.wait_for(slow(), TIMEOUT)
        outputs = [json.loads(e.output) for e in got if isinstance(e, ToolCallFinished)]
        assert outputs == [{"q": "x", "found": True}]
        posted = await t.output_for(t.server_calls()[0]["call_id"])
        assert json.loads(posted) == {"q": "x", "found": True}
    assert [e.data for e in got if isinstance(e, AudioDelta)] == _sent_audio(t)


async def test_a_session_paused_by_backpressure_closes_promptly() -> None:
    options = SessionOptions(max_buffered_events=LIMIT)
    async with live(Scenario().on("talk").say(LONG), AGENT, options=options) as t:
        stream = t.session.events()
        await stream.__anext__()
        told_before = len(t.events.events)
        await t.session.send_text("talk")
        await t.events.until(lambda: len(t.events.events) - told_before >= LIMIT or None)
        assert not _reading(t.session)
        await asyncio.wait_for(t.session.close(), TIMEOUT / 2)  # the close handshake is read
        assert t.session.closed
    assert t.conn.close_code == 1000


async def test_an_iterator_stalled_past_the_keepalive_timeout_costs_the_connection() -> None:
    options = SessionOptions(max_buffered_events=LIMIT)
    quick = TIMEOUT / 20
    keepalive = {"ping_interval": quick, "ping_timeout": quick, "close_timeout": quick}
    async with live(
        Scenario().on("talk").say(LONG), AGENT, options=options, connect_options=keepalive
    ) as t:
        stream = t.session.events()
        await stream.__anext__()
        await t.session.send_text("talk")
        reconnecting = await t.events.wait_for(Reconnecting)  # the pong was never read
        assert "1011" in reconnecting.reason
        await t.events.wait_for(Reconnected)
        got = await asyncio.wait_for(stream.__anext__(), TIMEOUT)
    assert not isinstance(got, EventsDropped)  # what was read before the drop is all there
