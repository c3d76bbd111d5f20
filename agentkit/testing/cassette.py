"""Cassettes: recorded server events replayed against a client, pacing on its events.

Format (JSON Lines, UTF-8): one JSON object per line; blank lines and lines starting with ``#``
are ignored.

* A **server event** is any object with a ``"type"``: it is sent as is (an ``event_id`` is added
  when missing).
* A **marker** is ``{"expect": "<client event type>"}``: replay pauses until the client sends an
  event of that type. Client events of other types meanwhile are recorded, not answered.

The first server events (up to the first marker) are sent on connect. When the cassette runs out,
the connection stays open and silent. :meth:`Cassette.from_exchange` writes a cassette from a
recorded connection (``record.received`` / ``record.sent``), so a session against a scenario or the
real service can be captured once and replayed later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentkit.testing.ids import IdFactory

__all__ = ["Cassette", "CassettePlayer"]

Event = dict[str, Any]


@dataclass(frozen=True)
class _Expect:
    event_type: str


Entry = Event | _Expect


class Cassette:
    """A parsed cassette: server events and ``expect`` markers, in order."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: list[Entry] = list(entries)

    @classmethod
    def loads(cls, text: str) -> Cassette:
        """Parse JSONL text; raises ``ValueError`` naming the bad line."""
        entries: list[Entry] = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            entries.append(_entry(stripped, number))
        return cls(entries)

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a ``.jsonl`` cassette file."""
        return cls.loads(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def from_exchange(cls, interleaved: Iterable[tuple[str, Mapping[str, Any]]]) -> Cassette:
        """Build from ``("client" | "server", event)`` pairs in the order they happened."""
        entries: list[Entry] = []
        for side, event in interleaved:
            if side == "client":
                entries.append(_Expect(str(event.get("type"))))
            else:
                entries.append(dict(event))
        return cls(entries)

    def dumps(self) -> str:
        """The JSONL text of this cassette."""
        lines = [
            json.dumps({"expect": e.event_type} if isinstance(e, _Expect) else e)
            for e in self.entries
        ]
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        """Write the cassette as JSONL."""
        Path(path).write_text(self.dumps(), encoding="utf-8")

    def player(self) -> CassettePlayer:
        """Fresh replay state for one connection."""
        return CassettePlayer(self)


def _entry(line: str, number: int) -> Entry:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"cassette line {number}: not JSON ({exc})") from exc
    if isinstance(value, dict) and isinstance(value.get("expect"), str) and "type" not in value:
        return _Expect(value["expect"])
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value
    raise ValueError(f"cassette line {number}: expected a server event or an expect marker")


class CassettePlayer:
    """Sans-I/O replay with the same surface as :class:`~agentkit.testing.state.ConnectionState`."""

    def __init__(self, cassette: Cassette) -> None:
        self._entries = cassette.entries
        self._cursor = 0
        self._ids = IdFactory("tape")
        self.streaming = False

    @property
    def finished(self) -> bool:
        """Whether every entry has been replayed."""
        return self._cursor >= len(self._entries)

    @property
    def waiting_for(self) -> str | None:
        """The client event type replay is paused on, if any."""
        entry = self._entries[self._cursor] if not self.finished else None
        return entry.event_type if isinstance(entry, _Expect) else None

    def open(self) -> list[Event]:
        """The events before the first marker."""
        return self._until_marker()

    def receive_text(self, frame: str | bytes) -> list[Event]:
        """Advance past the current marker when ``frame`` is the expected client event."""
        try:
            event = json.loads(frame)
        except ValueError:
            return []
        return self.receive(event) if isinstance(event, dict) else []

    def receive(self, event: Mapping[str, Any]) -> list[Event]:
        """Advance past the current marker when ``event`` has the expected type."""
        if self.waiting_for is None or event.get("type") != self.waiting_for:
            return []
        self._cursor += 1
        return self._until_marker()

    def next_event(self) -> Event | None:
        """Cassettes send everything as soon as it is due; nothing streams later."""
        return None

    def _until_marker(self) -> list[Event]:
        events: list[Event] = []
        while not self.finished and not isinstance(entry := self._entries[self._cursor], _Expect):
            events.append(
                entry if "event_id" in entry else {**entry, "event_id": self._ids.new("event")}
            )
            self._cursor += 1
        return events
