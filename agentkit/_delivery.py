"""How server events reach the application: the wire-to-application mapping of the events
that need no decision, and the channel the session's iterator reads from."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from agentkit.errors import ConfigurationError
from agentkit.events import (
    AudioDelta,
    AudioDone,
    DtmfReceived,
    Event,
    EventsDropped,
    InputTimeout,
    ReasoningDone,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    TranscriptDone,
    UserTranscript,
)
from agentkit.protocol import events as ev

__all__ = ["APP_EVENTS", "BUFFER_POLICIES", "BufferPolicy", "EventChannel"]

logger = logging.getLogger("agentkit.session")


BufferPolicy = Literal["backpressure", "drop_oldest"]
"""What a session does when its iterator has ``max_buffered_events`` unread events."""

BUFFER_POLICIES: tuple[BufferPolicy, ...] = ("backpressure", "drop_oldest")


class EventChannel:
    """A FIFO for application events: a list, a read position and the futures of readers.

    Lighter than ``asyncio.Queue`` (no putter queue, no unfinished-task bookkeeping), which
    matters for memory when a process holds thousands of idle sessions: a drained channel
    holds an empty list (56 bytes; an empty deque keeps a 760-byte block).

    At ``limit`` unread events it loses nothing unless told to. With ``"backpressure"`` it
    keeps every event and sets :attr:`over`, so the session stops reading the socket until an
    iterator makes room (:meth:`when_room`); while no iterator runs (an application that only
    uses handlers), nobody could ever make room, so the oldest go instead. With
    ``"drop_oldest"`` the oldest always go. Either way drops are counted, and the next read
    returns an :class:`~agentkit.events.EventsDropped` standing exactly where they were.

    While something waits on the socket itself (:meth:`unbounded`, e.g. an ``ask`` awaited in
    the iterator's own loop body, which reads nothing meanwhile), backpressure is off: events
    queue past the limit, nothing is lost and the session keeps reading, instead of deadlocking.
    """

    __slots__ = (
        "_gap",
        "_head",
        "_held",
        "_items",
        "_limit",
        "_on_room",
        "_pauses",
        "_unbounded",
        "_waiters",
        "_waking",
        "dropped",
        "over",
        "readers",
    )

    def __init__(self, limit: int | None = None, policy: BufferPolicy = "backpressure") -> None:
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigurationError(
                f"max_buffered_events must be a positive integer or None, not {limit!r}"
            )
        if policy not in BUFFER_POLICIES:
            raise ConfigurationError(
                f"buffer_policy must be 'backpressure' or 'drop_oldest', not {policy!r}"
            )
        self._items: list[Event | None] = []
        self._head = 0  # the next unread event; read slots before it are None
        self._limit = limit
        self._pauses = policy == "backpressure"
        self._unbounded = 0  # waits that need the socket read whatever the iterator does
        self._waiters: list[asyncio.Future[None]] = []
        self._waking = False
        self._held = False
        self._gap = 0  # events dropped just before the head, not yet reported to a reader
        self._on_room: Callable[[], None] | None = None
        self.dropped = 0
        self.over = False  # backpressure: the limit is reached; the session should stop reading
        self.readers = 0  # iterators running over the session

    def __len__(self) -> int:
        """Unread events."""
        return len(self._items) - self._head

    def put_nowait(self, event: Event) -> None:
        self._items.append(event)
        limit = self._limit
        if limit is not None and len(self._items) - self._head >= limit:
            if self._pauses and self.readers:
                self.over = not self._unbounded
            elif len(self._items) - self._head > limit:
                self._drop_oldest(limit)
        if self._waiters and not self._waking and not self._held:
            # A loop step later: what the session scheduled while handling this frame (a tool
            # call, the outputs it sends) runs before the application's handling of events.
            self._waking = True
            asyncio.get_running_loop().call_soon(self._wake_readers)

    def _drop_oldest(self, limit: int) -> None:
        """Down to ``limit`` unread (more than one after a reader left a backlog)."""
        excess = len(self._items) - self._head - limit
        first = self.dropped == 0
        for _ in range(excess):
            self._items[self._head] = None
            self._head += 1
        self._compact()
        self._gap += excess
        self.dropped += excess
        if first:
            logger.warning(
                "nobody is reading the session's events: keeping the latest %d, dropping older "
                "ones; the iterator is told with EventsDropped (see SessionOptions.buffer_policy)",
                limit,
            )

    def when_room(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once an iterator has read below the limit, or none is left
        (replacing a callback that was waiting: it belonged to a socket that is gone)."""
        self._on_room = callback

    def make_room(self) -> None:
        """Run the room callback now (the session is closing: its socket must be read)."""
        self.over = False
        callback, self._on_room = self._on_room, None
        if callback is not None:
            callback()

    @contextmanager
    def unbounded(self) -> Iterator[None]:
        """Backpressure off while the block runs: a session paused by it reads again at once,
        and pauses again, if still over the limit, after the block's last chunk."""
        self._unbounded += 1
        if self.over:
            self.make_room()
        try:
            yield
        finally:
            self._unbounded -= 1
            limit = self._limit
            if (
                not self._unbounded
                and self._pauses
                and self.readers
                and limit is not None
                and len(self) >= limit
            ):
                self.over = True

    def reader_joined(self) -> None:
        self.readers += 1

    def reader_left(self) -> None:
        """An iterator ended; with none left, nobody would make room: read on, dropping."""
        self.readers -= 1
        if not self.readers:
            self.make_room()

    def hold(self) -> None:
        """Wake no reader until :meth:`release`. The session holds the channel while it handles
        a chunk of frames, then wakes readers once, after everything the chunk scheduled:
        one callback fewer per chunk than waking a loop step later."""
        self._held = True

    def release(self) -> None:
        self._held = False
        if self._waiters and not self._waking and len(self):
            self._wake_readers()

    def _wake_readers(self) -> None:
        self._waking = False
        for _ in range(len(self)):
            if not self._waiters:
                return
            self._wake_next()

    async def get(self) -> Event:
        while len(self._items) == self._head and not self._gap:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif len(self) and not waiter.cancelled():
                    self._wake_next()  # pass the wake-up on: we will not read this event
                raise
        if self._gap:
            return self._gap_event()
        items = self._items
        event = items[self._head]
        assert event is not None
        if self._head + 1 == len(items):
            items.clear()  # drained: frees the list's storage too
            self._head = 0
        else:
            items[self._head] = None
            self._head += 1
            self._compact()
        if self.over and len(items) - self._head < (self._limit or 0):
            self.make_room()
        return event

    def _gap_event(self) -> Event:
        count, self._gap = self._gap, 0
        return EventsDropped(count=count, total=self.dropped, limit=self._limit or 0)

    def _compact(self) -> None:
        """Drop read slots once they are most of the list (amortised O(1) per event)."""
        if self._head >= 64 and self._head * 2 >= len(self._items):
            del self._items[: self._head]
            self._head = 0

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return


def _text_delta(event: Any) -> Event:
    return TranscriptDelta(response_id=event.response_id, item_id=event.item_id, delta=event.delta)


APP_EVENTS: dict[type, Callable[[Any], Event | None]] = {
    ev.ResponseAudioDelta: lambda e: AudioDelta(
        response_id=e.response_id, item_id=e.item_id, data=e.delta
    ),
    ev.ResponseAudioTranscriptDelta: _text_delta,
    ev.ResponseTextDelta: _text_delta,
    ev.ResponseAudioTranscriptDone: lambda e: TranscriptDone(
        response_id=e.response_id, item_id=e.item_id, text=e.transcript
    ),
    ev.ResponseTextDone: lambda e: TranscriptDone(
        response_id=e.response_id, item_id=e.item_id, text=e.text
    ),
    ev.ResponseAudioDone: lambda e: AudioDone(response_id=e.response_id, item_id=e.item_id),
    ev.InputAudioTranscriptionCompleted: lambda e: UserTranscript(
        item_id=e.item_id, text=e.transcript
    ),
    ev.InputAudioBufferSpeechStarted: lambda e: SpeechStarted(
        audio_start_ms=e.audio_start_ms, item_id=e.item_id
    ),
    ev.InputAudioBufferSpeechStopped: lambda e: SpeechStopped(
        audio_end_ms=e.audio_end_ms, item_id=e.item_id
    ),
    ev.InputAudioBufferTimeoutTriggered: lambda e: InputTimeout(
        item_id=e.item_id, audio_start_ms=e.audio_start_ms, audio_end_ms=e.audio_end_ms
    ),
    ev.InputAudioBufferDtmfReceived: lambda e: DtmfReceived(key=e.event, received_at=e.received_at),
    ev.ResponseOutputItemDone: lambda e: _reasoning(e) if e.item.type == "reasoning" else None,
}


def _reasoning(event: Any) -> ReasoningDone:
    """A reasoning item's summary: the text of its ``summary`` parts (or content parts)."""
    item = event.item
    parts = (item.model_extra or {}).get("summary") or []
    texts = [p.get("text", "") for p in parts if isinstance(p, dict)]
    summary = "".join(t for t in texts if isinstance(t, str)) or item.text
    return ReasoningDone(response_id=event.response_id, item_id=item.id, summary=summary)
