"""The closing rule every transport iterates by (see :mod:`agentkit.transport`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from agentkit.errors import ConnectionClosedError

__all__ = ["frames_until_normal_close"]


async def frames_until_normal_close(
    recv: Callable[[], Awaitable[str | bytes]], closing_locally: Callable[[], bool]
) -> AsyncIterator[str | bytes]:
    """Yield frames from ``recv`` until the socket closes; end quietly on a normal close (1000,
    or one this side started), raise ``ConnectionClosedError`` on any other."""
    while True:
        try:
            yield await recv()
        except ConnectionClosedError as exc:
            if exc.code == 1000 or closing_locally():
                return
            raise
