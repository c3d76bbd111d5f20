"""A ``websockets`` client connection that hands over each message the moment it is parsed.

websockets' asyncio connection queues frames in an assembler and wakes the coroutine blocked in
``recv()``: a future, a task step and a pass of the event loop per message. A realtime session
does a few microseconds of work per event, so that machinery was a large share of its cost per
tool round. :class:`DirectConnection` delivers each complete message to a listener from inside
``data_received`` instead; until a listener is set, messages wait in a list that
:meth:`~DirectConnection.next_message` reads, with websockets' read flow control (reading pauses
while more than ``max_queue`` messages wait: 16 by default).

Everything else (handshake, pings, the closing handshake, limits, writes) stays websockets'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State

__all__ = ["BatchEnd", "DirectConnection", "Listener"]

Listener = Callable[[str | bytes], None]
BatchEnd = Callable[[], None]

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)

READ_SIZE = 64 * 1024
"""Bytes asked of each socket read: below glibc's default mmap threshold (128 KiB)."""


class DirectConnection(ClientConnection):
    """Use as ``websockets.asyncio.client.connect(..., create_connection=DirectConnection)``.

    The listener runs inside the protocol callback: it must not raise, and what it does (or
    schedules) happens before the next message is parsed.
    """

    # Slots: websockets' connection already fills a large instance dict, and these fields
    # would make it grow (about 1 KiB per idle session).
    __slots__ = (
        "_batch_end",
        "_fragmented_text",
        "_fragments",
        "_listener",
        "_pause_above",
        "_reader",
        "_reading_paused",
        "_resume_at",
        "_waiting",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: list[str | bytes] = []
        self._reader: asyncio.Future[None] | None = None
        self._listener: Listener | None = None
        self._batch_end: BatchEnd | None = None
        self._fragments: list[bytes] | None = None
        self._fragmented_text = False
        self._reading_paused = False
        self._pause_above, self._resume_at = self._queue_marks()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        _read_from_the_heap(transport)

    def listen(self, listener: Listener, batch_end: BatchEnd | None = None) -> None:
        """Deliver every message to ``listener`` from now on, starting with those waiting.

        ``batch_end`` runs after the messages of each chunk read from the socket, so that work
        worth doing once per chunk rather than once per message (waking readers) is.
        """
        while self._waiting:
            listener(self._waiting.pop(0))
        if batch_end is not None:
            batch_end()
        self._listener = listener
        self._batch_end = batch_end
        self._resume_reading()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        batch_end = self._batch_end
        if batch_end is not None:
            batch_end()

    async def next_message(self) -> str | bytes:
        """The next message, for a reader without a listener.

        Raises:
            websockets.exceptions.ConnectionClosed: once the connection is closed and every
                message that arrived before the close was read.
        """
        while not self._waiting:
            if self.protocol.state is State.CLOSED:
                raise self.protocol.close_exc
            if self._reader is not None:
                raise RuntimeError("another coroutine is already waiting for the next message")
            self._reader = self.loop.create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        message = self._waiting.pop(0)
        if len(self._waiting) <= self._resume_at:
            self._resume_reading()
        return message

    def process_event(self, event: Any) -> None:
        if self.response is None or not isinstance(event, Frame) or event.opcode not in _DATA:
            super().process_event(event)  # the handshake response, pings, pongs, close
            return
        message = self._assemble(event)
        if message is None:
            return
        if self._listener is not None:
            self._listener(message)
            return
        self._waiting.append(message)
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)
        above = self._pause_above
        if above is not None and len(self._waiting) > above and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)  # next_message sees the close

    def _assemble(self, frame: Frame) -> str | bytes | None:
        """A whole message, or ``None`` while fragments of one arrive (the protocol layer
        has already checked their order and the size limit)."""
        if frame.opcode is Opcode.CONT:
            assert self._fragments is not None
            self._fragments.append(bytes(frame.data))
            if not frame.fin:
                return None
            data, self._fragments = b"".join(self._fragments), None
            text = self._fragmented_text
        elif not frame.fin:
            self._fragments = [bytes(frame.data)]
            self._fragmented_text = frame.opcode is Opcode.TEXT
            return None
        else:
            data, text = bytes(frame.data), frame.opcode is Opcode.TEXT
        if not text:
            return data
        try:
            return data.decode()
        except UnicodeDecodeError:
            # RFC 6455 §8.1: fail the connection with 1007; the session sees the close.
            self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
            self.send_data()
            return None

    def _queue_marks(self) -> tuple[int | None, int]:
        """websockets' ``max_queue`` high and low marks (older releases keep them as a tuple)."""
        marks = getattr(self, "max_queue", None)
        if isinstance(marks, tuple):
            high, low = marks
        else:
            high, low = getattr(self, "max_queue_high", 16), getattr(self, "max_queue_low", None)
        if high is None:
            return None, 0
        return high, high // 4 if low is None else low

    def _resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()


def _read_from_the_heap(transport: asyncio.BaseTransport) -> None:
    """Make asyncio read ``transport`` in chunks of :data:`READ_SIZE`.

    asyncio reads each chunk into a fresh bytes object of ``max_size`` bytes, 256 KiB (for TLS,
    in its SSL protocol), then shrinks it to what arrived. That is above glibc's mmap
    threshold unless something in the process happened to raise it, and then every read costs
    an ``mmap``, an ``mremap`` and a ``munmap``: seen on Python 3.12, where it added about
    40 us to a tool round trip on loopback. Transports without that attribute (uvloop) are
    left alone.
    """
    reader: Any = getattr(transport, "_ssl_protocol", transport)
    if isinstance(getattr(reader, "max_size", None), int):
        reader.max_size = READ_SIZE
