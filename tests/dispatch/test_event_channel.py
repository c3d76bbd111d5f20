"""The session's event channel: FIFO, several readers, cancellation-safe."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentkit._delivery import EventChannel
from agentkit.errors import ConfigurationError
from agentkit.events import EventsDropped, SessionReady, TranscriptDelta
from tests.support import TIMEOUT


async def test_events_come_out_in_order() -> None:
    channel = EventChannel()
    for n in range(3):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    got = [await channel.get() for _ in range(3)]
    assert [e.delta for e in got if isinstance(e, TranscriptDelta)] == ["0", "1", "2"]


async def test_two_waiting_readers_each_get_one_event() -> None:
    channel = EventChannel()
    readers = [asyncio.ensure_future(channel.get()) for _ in range(2)]
    await asyncio.sleep(0)
    channel.put_nowait(TranscriptDelta(delta="a"))
    channel.put_nowait(TranscriptDelta(delta="b"))
    done, _ = await asyncio.wait(readers, timeout=TIMEOUT)
    assert len(done) == 2
    assert sorted(r.result().delta for r in readers if isinstance(r.result(), TranscriptDelta)) == [
        "a",
        "b",
    ]


async def test_a_cancelled_reader_does_not_swallow_an_event() -> None:
    channel = EventChannel()
    first = asyncio.ensure_future(channel.get())
    second = asyncio.ensure_future(channel.get())
    await asyncio.sleep(0)
    channel.put_nowait(SessionReady())
    first.cancel()  # woken, then cancelled before it could read
    assert isinstance(await asyncio.wait_for(second, TIMEOUT), SessionReady)


async def test_with_no_reader_unread_events_are_bounded_and_the_gap_is_told_first() -> None:
    channel = EventChannel(limit=3)
    for n in range(5):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    gap = await channel.get()
    assert gap == EventsDropped(count=2, total=2, limit=3)
    got = [await channel.get() for _ in range(3)]
    assert [e.delta for e in got if isinstance(e, TranscriptDelta)] == ["2", "3", "4"]
    assert channel.dropped == 2 and len(channel) == 0


async def test_each_gap_is_told_once_with_its_own_count_and_the_running_total() -> None:
    channel = EventChannel(limit=2, policy="drop_oldest")
    for n in range(3):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    assert await channel.get() == EventsDropped(count=1, total=1, limit=2)
    assert [await channel.get() for _ in range(2)] == [
        TranscriptDelta(delta="1"),
        TranscriptDelta(delta="2"),
    ]
    for n in range(3, 7):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    assert await channel.get() == EventsDropped(count=2, total=3, limit=2)
    assert await channel.get() == TranscriptDelta(delta="5")


async def test_backpressure_with_a_reader_keeps_everything_and_asks_for_a_pause() -> None:
    channel = EventChannel(limit=3)
    channel.reader_joined()
    resumed: list[int] = []
    for n in range(6):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    assert channel.over and channel.dropped == 0 and len(channel) == 6
    channel.when_room(lambda: resumed.append(len(channel)))
    got = [await channel.get() for _ in range(3)]
    assert resumed == [] and channel.over  # 3 unread: still at the limit
    got.append(await channel.get())
    assert resumed == [2] and not channel.over  # below the limit: read the socket again
    got += [await channel.get() for _ in range(2)]
    assert [e.delta for e in got if isinstance(e, TranscriptDelta)] == list("012345")


async def test_backpressure_reads_on_when_the_last_reader_leaves() -> None:
    channel = EventChannel(limit=2)
    channel.reader_joined()
    for n in range(3):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    resumed: list[bool] = []
    channel.when_room(lambda: resumed.append(True))
    channel.reader_left()
    assert resumed == [True] and not channel.over
    channel.put_nowait(TranscriptDelta(delta="3"))  # nobody reads: the oldest go now
    assert channel.dropped == 2 and len(channel) == 2


async def test_drop_oldest_with_a_reader_never_asks_for_a_pause() -> None:
    channel = EventChannel(limit=2, policy="drop_oldest")
    channel.reader_joined()
    for n in range(5):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    assert not channel.over and channel.dropped == 3 and len(channel) == 2


@pytest.mark.parametrize(
    ("limit", "policy"), [(0, "backpressure"), (-1, "drop_oldest"), (10, "drop_newest")]
)
def test_a_bad_limit_or_policy_is_a_configuration_error(limit: int, policy: Any) -> None:
    with pytest.raises(ConfigurationError):
        EventChannel(limit=limit, policy=policy)


async def test_a_reader_far_behind_gets_every_event_in_order_and_the_channel_drains() -> None:
    channel = EventChannel(limit=10_000)
    for n in range(5_000):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
        if n % 3 == 0:  # the reader falls behind, catching up a little now and then
            event = await channel.get()
            assert isinstance(event, TranscriptDelta)
    got = [event.delta for event in [await channel.get() for _ in range(len(channel))]]
    assert got == [str(n) for n in range(5_000 - len(got), 5_000)]
    assert len(channel) == 0 and channel.dropped == 0


async def test_an_unread_channel_stays_within_its_limit_in_memory() -> None:
    channel = EventChannel(limit=100)
    for n in range(10_000):
        channel.put_nowait(TranscriptDelta(delta=str(n)))
    assert len(channel) == 100 and channel.dropped == 9_900
    assert len(channel._items) <= 2 * 100 + 64  # read slots are compacted away


async def test_a_held_channel_wakes_its_reader_on_release_with_everything_put_meanwhile() -> None:
    channel = EventChannel()
    reader = asyncio.ensure_future(channel.get())
    await asyncio.sleep(0)
    channel.hold()
    channel.put_nowait(TranscriptDelta(delta="a"))
    channel.put_nowait(TranscriptDelta(delta="b"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not reader.done()  # held: nobody woken yet
    channel.release()
    first = await asyncio.wait_for(reader, TIMEOUT)
    second = await channel.get()
    assert [e.delta for e in (first, second) if isinstance(e, TranscriptDelta)] == ["a", "b"]


async def test_releasing_an_empty_held_channel_wakes_nobody() -> None:
    channel = EventChannel()
    reader = asyncio.ensure_future(channel.get())
    await asyncio.sleep(0)
    channel.hold()
    channel.release()
    await asyncio.sleep(0)
    assert not reader.done()
    channel.put_nowait(SessionReady())
    assert isinstance(await asyncio.wait_for(reader, TIMEOUT), SessionReady)
