"""How server events reach the application: the wire-to-application mapping of the events
that need no decision, and the channel the session's iterator reads from."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from agentkit.events import (
    AudioDelta,
    AudioDone,
    Event,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    TranscriptDone,
    UserTranscript,
)
from agentkit.protocol import events as ev

__all__ = ["APP_EVENTS", "EventChannel"]

logger = logging.getLogger("agentkit.session")


class EventChannel:
    """A FIFO for application events: a list, a read position and the futures of readers.

    Lighter than ``asyncio.Queue`` (no putter queue, no unfinished-task bookkeeping), which
    matters for memory when a process holds thousands of idle sessions: a drained channel
    holds an empty list (56 bytes; an empty deque keeps a 760-byte block). It keeps at most
    ``limit`` unread events, dropping the oldest, so an application that only uses handlers
    (and never iterates the session) does not accumulate every audio chunk for ever.
    """

    __slots__ = ("_head", "_held", "_items", "_limit", "_waiters", "_waking", "dropped")

    def __init__(self, limit: int | None = None) -> None:
        self._items: list[Event | None] = []
        self._head = 0  # the next unread event; read slots before it are None
        self._limit = limit
        self._waiters: list[asyncio.Future[None]] = []
        self._waking = False
        self._held = False
        self.dropped = 0

    def __len__(self) -> int:
        """Unread events."""
        return len(self._items) - self._head

    def put_nowait(self, event: Event) -> None:
        self._items.append(event)
        if self._limit is not None and len(self._items) - self._head > self._limit:
            self._items[self._head] = None
            self._head += 1
            self._compact()
            self.dropped += 1
            if self.dropped == 1:
                logger.warning(
                    "nobody is reading the session's events: keeping the latest %d, dropping "
                    "older ones (iterate the session, or pass SessionOptions(max_buffered_events))",
                    self._limit,
                )
        if self._waiters and not self._waking and not self._held:
            # A loop step later: what the session scheduled while handling this frame (a tool
            # call, the outputs it sends) runs before the application's handling of events.
            self._waking = True
            asyncio.get_running_loop().call_soon(self._wake_readers)

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
        while len(self._items) == self._head:
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
        return event

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
}
