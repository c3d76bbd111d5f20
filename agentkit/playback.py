"""Where the assistant's audio stands at the listener, so a barge-in cuts what was not heard.

A response may speak several messages (a preamble, then the answer), and a new response may start
while the previous one is still playing from the application's buffer. Items play back to back:
each starts when its first delta arrives or when the item before it ends, whichever is later.
The application can pin the position with :meth:`Playback.report` (the session's
``report_playback``); otherwise it is estimated from the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MS_PER_BASE64_CHAR", "Playback", "PlayedItem"]

MS_PER_BASE64_CHAR = 3 / 4 / 48  # base64 of PCM16 at 24 kHz mono: 48 bytes per millisecond


@dataclass(slots=True)
class PlayedItem:
    item_id: str
    start: float  # clock seconds when its playback starts
    received_ms: float = 0.0
    played_ms: int | None = None  # what the application reported


class Playback:
    """The audio items the listener has, is hearing, or has yet to hear, in order."""

    __slots__ = ("_clock", "items")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.items: list[PlayedItem] = []

    def add(self, item_id: str) -> PlayedItem:
        """The first delta of a new item: it plays once the items before it have."""
        now = self._clock()
        items = self.items
        start = now
        if items:
            last = items[-1]
            start = max(now, last.start + last.received_ms / 1000)
            # Items heard in full are done with; the rest may still be cut.
            items[:] = [i for i in items if i.start + i.received_ms / 1000 > now]
        item = PlayedItem(item_id, start)
        items.append(item)
        return item

    def report(self, item_id: str, played_ms: int) -> None:
        for item in self.items:
            if item.item_id == item_id:
                item.played_ms = played_ms

    def cut(self) -> list[tuple[str, int, float]]:
        """``(item_id, audio_end_ms, audio_ms)`` for the item playing now and each unheard item
        after it (at 0 ms), then forget them all: the listener stops here."""
        items, self.items = self.items, []
        pinned = max((n for n, i in enumerate(items) if i.played_ms is not None), default=None)
        now = self._clock()
        cuts: list[tuple[str, int, float]] = []
        for index, item in enumerate(items):
            if pinned is not None:
                heard = 0 if index > pinned else (item.played_ms if index == pinned else None)
            else:
                heard = max(0, int((now - item.start) * 1000))
            if heard is not None and heard < int(item.received_ms):
                cuts.append((item.item_id, heard, item.received_ms))
        return cuts

    def clear(self) -> None:
        self.items = []
