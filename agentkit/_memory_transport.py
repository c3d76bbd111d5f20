"""An in-memory :class:`~agentkit.transport.Transport` for unit tests of the layers above.

Like httpx's ``MockTransport``: no socket, no server. The test plays the server::

    transport = MemoryTransport()
    transport.push({"type": "session.created", "session": {...}})   # server -> client
    await session_code_under_test(transport)
    assert transport.sent_json()[0]["type"] == "session.update"     # client -> server
    transport.push_close(1011, "server error")                      # server closes

It follows the same closing rules as ``WebSocketTransport`` (see :mod:`agentkit.transport`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from agentkit._closing import frames_until_normal_close
from agentkit.errors import ConnectionClosedError

__all__ = ["MemoryTransport"]


class _Close:
    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class MemoryTransport:
    """A pair of queues standing in for a WebSocket.

    Attributes:
        sent: every frame the client sent, in order.
    """

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._inbox: asyncio.Queue[str | bytes | _Close] = asyncio.Queue()
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._close: _Close | None = None
        self._closing_locally = False

    # -- the test's side (the "server") -------------------------------------------------------

    def push(self, frame: str | bytes | Mapping[str, Any]) -> None:
        """Queue a frame for the client to receive; a mapping is sent as JSON text."""
        self._inbox.put_nowait(json.dumps(frame) if isinstance(frame, Mapping) else frame)

    def push_close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server side, after the frames already pushed are received."""
        self._inbox.put_nowait(_Close(code, reason))

    async def next_sent(self) -> str:
        """Wait for the next frame the client sends (wrap in ``asyncio.wait_for`` in tests)."""
        return await self._outbox.get()

    def sent_json(self) -> list[Any]:
        """Every sent frame decoded as JSON."""
        return [json.loads(frame) for frame in self.sent]

    # -- the client's side (the Transport protocol) -------------------------------------------

    async def send(self, data: str) -> None:
        """Record a client frame; raises ``ConnectionClosedError`` once closed."""
        if self._close is not None:
            raise ConnectionClosedError(self._close.code, self._close.reason)
        self.sent.append(data)
        self._outbox.put_nowait(data)

    async def send_many(self, frames: Sequence[str]) -> None:
        """Record client frames in order (``WebSocketTransport`` writes them together)."""
        for frame in frames:
            await self.send(frame)

    async def recv(self) -> str | bytes:
        """Return the next pushed frame; raises ``ConnectionClosedError`` at the close."""
        if self._closing_locally and self._close is not None:
            raise ConnectionClosedError(self._close.code, self._close.reason)
        item = await self._inbox.get()
        if isinstance(item, _Close):
            self._close = self._close or item
            self._inbox.put_nowait(item)  # later recv() calls see the close too
            raise ConnectionClosedError(self._close.code, self._close.reason)
        return item

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Yield frames until a normal close (1000 or a close the client started)."""
        return frames_until_normal_close(self.recv, lambda: self._closing_locally)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side; a pending ``recv()`` wakes up with the close."""
        if self._close is None:
            self._closing_locally = True
            self._close = _Close(code, reason)
            self._inbox.put_nowait(self._close)

    @property
    def closed(self) -> bool:
        """Whether either side closed."""
        return self._close is not None

    @property
    def close_code(self) -> int | None:
        """The close code, once closed."""
        return self._close.code if self._close else None

    @property
    def close_reason(self) -> str | None:
        """The close reason, once closed."""
        return self._close.reason if self._close else None
