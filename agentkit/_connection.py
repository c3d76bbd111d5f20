"""A ``websockets`` client connection that hands over each message the moment it is parsed.

websockets' asyncio connection queues frames in an assembler and wakes the coroutine blocked in
``recv()``: a future, a task step and a pass of the event loop per message. A realtime session
does a few microseconds of work per event, so that machinery was a large share of its cost per
tool round. :class:`DirectConnection` delivers each complete message to a listener from inside
``data_received`` instead; until a listener is set, messages wait in a list that
:meth:`~DirectConnection.next_message` reads, with websockets' read flow control (reading pauses
while more than ``max_queue`` messages wait: 16 by default).

After the handshake it also splits the byte stream into frames itself: a message in one
unmasked, uncompressed frame (nearly every server event) is delivered without websockets'
frame parser, and every other frame goes to websockets whole, in order.

Everything else (handshake, pings, the closing handshake, limits, writes) stays websockets'.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets installed without its C extension
    from websockets.utils import apply_mask

__all__ = ["BatchEnd", "DirectConnection", "Listener", "masked_text_frame"]

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
        "_framing",
        "_head_tail",
        "_limit",
        "_listener",
        "_partial",
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
        self._framing = False  # set once the handshake is done: see _receive_frames
        self._head_tail = b""
        self._partial: bytearray | None = None
        self._limit: int | None = None

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
        if self._framing:
            self._receive_frames(data)
        elif self.response is None and self.protocol.state is State.CONNECTING:
            self._receive_handshake(data)
        else:
            super().data_received(data)
        batch_end = self._batch_end
        if batch_end is not None:
            batch_end()

    def _receive_handshake(self, data: bytes) -> None:
        """Give websockets the HTTP response alone, then frame what follows it ourselves."""
        joined = self._head_tail + data
        end = joined.find(b"\r\n\r\n")
        if end < 0:
            self._head_tail = joined[-3:]
            super().data_received(data)
            return
        split = end + 4 - len(self._head_tail)  # where the frames start in ``data``
        self._head_tail = b""
        super().data_received(data[:split])
        if self.protocol.state is State.OPEN and self._can_frame():
            self._framing = True
            protocol: Any = self.protocol  # websockets 15 names the limit max_size
            limit = getattr(protocol, "max_message_size", getattr(protocol, "max_size", None))
            self._limit = limit if isinstance(limit, int) else None
            if split < len(data):
                self._receive_frames(data[split:])
        elif split < len(data):
            super().data_received(data[split:])

    def _can_frame(self) -> bool:
        protocol: Any = self.protocol
        if getattr(protocol, "max_fragment_size", None) is not None:
            return False
        if not all(type(extension) is PerMessageDeflate for extension in protocol.extensions):
            return False  # an extension we do not know may give meaning to a plain frame
        return not protocol.debug  # websockets logs every frame it parses: leave them to it

    def _receive_frames(self, data: bytes) -> None:
        """Split ``data`` into frames; deliver whole text and binary messages, and pass every
        other frame, whole, to websockets.

        websockets parses each frame with a generator, several microseconds a frame, which
        was most of the cost of receiving an event. A single-frame message (FIN set, no
        reserved bits: neither fragmented nor compressed) from the server (unmasked) needs
        none of its machinery and is delivered from here. Control frames, fragments,
        compressed frames and anything malformed go to websockets as they came, one whole
        frame at a time, so its parser always starts at a frame boundary and applies the
        protocol's rules (pongs, the closing handshake, errors). A frame over the size limit
        goes to websockets at once, which fails the connection with 1009 as before.
        """
        partial = self._partial
        if partial is not None:
            partial += data
        buffer: bytes | bytearray = data if partial is None else partial
        end, at = len(buffer), 0
        while True:
            bounds = _frame_bounds(buffer, at)
            if bounds is None:
                break
            start, stop = bounds
            if self._limit is not None and stop - start > self._limit:
                self._stop_framing(buffer[at:])
                return
            if stop > end:
                break
            first = buffer[at]
            if (first == 0x81 or first == 0x82) and buffer[at + 1] < 0x80 and self._plain():
                self._deliver_frame(first == 0x81, buffer[start:stop])
            else:
                super().data_received(bytes(buffer[at:stop]))
            if not self._framing:
                return
            at = stop
        if at == end:
            self._partial = None
        elif partial is None:
            self._partial = bytearray(buffer[at:])
        else:
            del partial[:at]

    def _plain(self) -> bool:
        """A data frame may skip websockets: no fragmented message is open, nor closing."""
        return self._fragments is None and self.protocol.state is State.OPEN

    def _deliver_frame(self, text: bool, payload: bytes | bytearray) -> None:
        """Deliver a single-frame message, or fail the connection on invalid UTF-8."""
        if not text:
            self._deliver(bytes(payload))
            return
        try:
            message = payload.decode()
        except UnicodeDecodeError:
            self._fail_invalid_utf8()
            self._stop_framing(b"")
            return
        self._deliver(message)

    def _stop_framing(self, rest: bytes | bytearray) -> None:
        """websockets reads everything from here on."""
        self._framing = False
        self._partial = None
        if rest:
            super().data_received(bytes(rest))

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
        if message is not None:
            self._deliver(message)

    def _deliver(self, message: str | bytes) -> None:
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
            self._fail_invalid_utf8()
            return None

    def _fail_invalid_utf8(self) -> None:
        """RFC 6455 §8.1: fail the connection with 1007; the session sees the close."""
        self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
        self.send_data()

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


def _frame_bounds(buffer: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """Where the payload of the frame starting at ``at`` starts and stops, once its header
    is complete (the payload may not be)."""
    available = len(buffer) - at
    if available < 2:
        return None
    second = buffer[at + 1]
    length, head = second & 0x7F, 2
    if length >= 126:
        head = 4 if length == 126 else 10
        if available < head:
            return None
        length = int.from_bytes(buffer[at + 2 : at + head], "big")
    start = at + head + (4 if second & 0x80 else 0)  # a masked frame goes to websockets
    return start, start + length


_HEAD_16 = struct.Struct("!BBH")
_HEAD_64 = struct.Struct("!BBQ")


def masked_text_frame(payload: bytes, mask: bytes) -> bytes:
    """A client's single-frame text message: FIN and ``mask`` (RFC 6455 §5.3).

    What ``websockets`` writes for ``send_text`` without extensions, in half its time: its
    serialiser goes through a frame object, a check and a ``BytesIO`` per frame. ``mask``: four
    fresh bytes from ``os.urandom`` (one call draws the masks of all the frames of a write).
    """
    length = len(payload)
    if length < 126:
        head = bytes((0x81, 0x80 | length))
    elif length < 65536:
        head = _HEAD_16.pack(0x81, 0x80 | 126, length)
    else:
        head = _HEAD_64.pack(0x81, 0x80 | 127, length)
    return head + mask + apply_mask(payload, mask)
