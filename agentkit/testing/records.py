"""What the simulator saw and sent, kept for assertions, with timeouts on every wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentkit.testing.cassette import Cassette
from agentkit.testing.dialect import Dialect

__all__ = ["ConnectionRecord", "EventLog"]

Event = dict[str, Any]


class EventLog:
    """An append-only list of event dicts that coroutines can wait on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._waiters: list[asyncio.Future[None]] = []

    def append(self, event: Event) -> None:
        """Record one event and wake the waiters."""
        self.events.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def of_type(self, event_type: str) -> list[Event]:
        """The events of one type, in order."""
        return [event for event in self.events if event.get("type") == event_type]

    def types(self) -> list[str]:
        """The ``type`` of every event, in order (handy in assertion messages)."""
        return [str(event.get("type")) for event in self.events]

    async def wait_for(
        self,
        event_type: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Event:
        """Wait until ``count`` events of ``event_type`` (matching ``where``) are in; return the
        ``count``-th. Raises ``TimeoutError`` naming what did arrive."""

        def found() -> Event | None:
            matches = [e for e in self.of_type(event_type) if where is None or where(e)]
            return matches[count - 1] if len(matches) >= count else None

        try:
            return await asyncio.wait_for(self._until(found), timeout)
        except asyncio.TimeoutError:
            seen = ", ".join(self.types()) or "nothing"
            raise TimeoutError(
                f"no {event_type!r} #{count} within {timeout}s; seen: {seen}"
            ) from None

    async def _until(self, found: Callable[[], Event | None]) -> Event:
        while (event := found()) is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> Event:
        return self.events[index]


@dataclass
class ConnectionRecord:
    """One accepted WebSocket: how it came in, what it exchanged, how it ended."""

    index: int
    path: str
    dialect: Dialect
    model: str
    headers: dict[str, str]
    received: EventLog = field(default_factory=EventLog)
    sent: EventLog = field(default_factory=EventLog)
    close_code: int | None = None
    close_reason: str = ""
    invalid_frames: list[str | bytes] = field(default_factory=list)
    exchange: list[tuple[str, Event]] = field(default_factory=list)
    """``("client" | "server", event)`` in the order they happened (see :meth:`cassette`)."""
    _closed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def closed(self) -> bool:
        """Whether the socket has finished."""
        return self._closed.is_set()

    def mark_closed(self, code: int | None, reason: str) -> None:
        """Record the close code seen by the server (``None`` when the socket was dropped)."""
        self.close_code, self.close_reason = code, reason
        self._closed.set()

    def cassette(self) -> Cassette:
        """This connection's exchange as a cassette that replays it."""
        return Cassette.from_exchange(self.exchange)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the socket has finished."""
        await asyncio.wait_for(self._closed.wait(), timeout)
