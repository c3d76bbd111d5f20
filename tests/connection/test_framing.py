"""DirectConnection's own framing: single-frame messages are delivered without websockets'
parser, everything else reaches websockets whole and in order.

The connection is driven byte by byte through ``data_received`` after a real websockets
handshake, so chunk boundaries (a frame cut anywhere, the HTTP response and the first frames
in one read) are chosen by the test rather than by the kernel.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri
from websockets.utils import accept_key

from agentkit._connection import DirectConnection, masked_text_frame
from agentkit.endpoints import Endpoint
from agentkit.transport import connect
from tests.connection.server import local_server
from tests.support import TIMEOUT

TEXT, BINARY, CONT, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = False) -> bytes:
    """A server frame as it comes off the wire."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    masked = 0x80 if mask else 0
    if size < 126:
        head += bytes([masked | size])
    elif size < 2**16:
        head += bytes([masked | 126]) + struct.pack("!H", size)
    else:
        head += bytes([masked | 127]) + struct.pack("!Q", size)
    return head + (b"\0\0\0\0" if mask else b"") + payload


def text(message: str) -> bytes:
    return frame(TEXT, message.encode())


class FakeSocket(asyncio.Transport):
    """Records what the connection writes; reads come from the test."""

    max_size = 256 * 1024  # as asyncio's socket transport has it

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False


def opened(
    after_response: bytes = b"",
    *,
    split_at: int | None = None,
    response_headers: bytes = b"",
    **options: Any,
) -> tuple[DirectConnection, FakeSocket]:
    """A connection whose handshake is answered by the test; ``after_response`` arrives in the
    same read as the HTTP response (cut into two reads at ``split_at``, if given)."""
    protocol = ClientProtocol(parse_uri("ws://127.0.0.1/v1/realtime"), **options)
    request = protocol.connect()
    protocol.send_request(request)
    connection = DirectConnection(protocol)
    socket = FakeSocket()
    connection.connection_made(socket)
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: "
        + accept_key(request.headers["Sec-WebSocket-Key"]).encode()
        + b"\r\n"
        + response_headers
        + b"\r\n"
    )
    stream = response + after_response
    cut = len(stream) if split_at is None else split_at
    connection.data_received(stream[:cut])
    if cut < len(stream):
        connection.data_received(stream[cut:])
    return connection, socket


def received(connection: DirectConnection) -> list[str | bytes]:
    return list(connection._waiting)


def close_code(connection: DirectConnection) -> int | None:
    sent = connection.protocol.close_sent
    return None if sent is None else sent.code


async def test_frames_in_the_read_of_the_http_response_are_delivered() -> None:
    connection, _ = opened(text("a") + text("b"))
    assert connection.protocol.state is State.OPEN
    assert connection._framing
    assert received(connection) == ["a", "b"]


@pytest.mark.parametrize("back", [1, 2, 3, 4])
async def test_a_response_whose_end_is_cut_across_reads_is_still_found(back: int) -> None:
    first_frames = text("a")
    connection, _ = opened(first_frames, split_at=-len(first_frames) - back)
    assert connection._framing
    assert received(connection) == ["a"]


async def test_a_stream_cut_anywhere_arrives_whole_and_in_order() -> None:
    messages: list[str | bytes] = ["a", "é" * 100, "x" * 300, b"\x00\xff"]
    stream = b"".join(frame(BINARY, m) if isinstance(m, bytes) else text(m) for m in messages)
    for cut in range(len(stream) + 1):
        connection, _ = opened()
        connection.data_received(stream[:cut])
        connection.data_received(stream[cut:])
        assert received(connection) == messages, cut


async def test_a_message_over_64_kib_across_many_reads() -> None:
    message = "y" * 70_000  # an eight-byte length
    stream = text(message) + text("after")
    connection, _ = opened()
    for start in range(0, len(stream), 4_093):
        connection.data_received(stream[start : start + 4_093])
    assert received(connection) == [message, "after"]
    assert connection._partial is None


async def test_control_frames_and_fragments_go_through_websockets_in_order() -> None:
    stream = (
        text("1")
        + frame(PING, b"p")
        + frame(TEXT, b"fr", fin=False)
        + frame(PING, b"q")
        + frame(CONT, b"ag")
        + text("2")
    )
    connection, socket = opened()
    socket.written.clear()
    connection.data_received(stream)
    assert received(connection) == ["1", "frag", "2"]
    assert socket.written.count(0x8A) >= 2  # websockets answered both pings (masked pongs)
    assert connection.protocol.state is State.OPEN


async def test_a_whole_message_inside_a_fragmented_one_is_a_protocol_error() -> None:
    connection, _ = opened()
    connection.data_received(frame(TEXT, b"start", fin=False) + text("intruder"))
    assert close_code(connection) == CloseCode.PROTOCOL_ERROR
    assert received(connection) == []


async def test_a_masked_server_frame_fails_the_connection_with_1002() -> None:
    connection, _ = opened()
    connection.data_received(frame(TEXT, b"hidden", mask=True) + text("later"))
    assert close_code(connection) == CloseCode.PROTOCOL_ERROR
    assert received(connection) == []


async def test_invalid_utf8_fails_the_connection_with_1007() -> None:
    connection, _ = opened()
    connection.data_received(text("ok") + frame(TEXT, b"\xff\xfe") + text("later"))
    assert close_code(connection) == CloseCode.INVALID_DATA
    assert received(connection) == ["ok"]


async def test_a_frame_over_max_size_fails_with_1009_before_its_payload_arrives() -> None:
    connection, _ = opened(max_size=1_000)
    connection.data_received(text("fits") + text("z" * 2_000)[:10])  # the header alone
    assert close_code(connection) == CloseCode.MESSAGE_TOO_BIG
    assert received(connection) == ["fits"]


async def test_a_close_frame_is_handled_by_websockets_and_later_data_is_dropped() -> None:
    connection, socket = opened()
    connection.data_received(
        text("last") + frame(CLOSE, struct.pack("!H", 1001) + b"bye") + text("ignored")
    )
    assert received(connection) == ["last"]
    rcvd = connection.protocol.close_rcvd
    assert rcvd is not None and (rcvd.code, rcvd.reason) == (1001, "bye")
    frames_written = bytes(socket.written).split(b"\r\n\r\n", 1)[1]  # after the request
    assert frames_written[0] == 0x80 | CLOSE  # websockets echoed the close


async def test_under_permessage_deflate_plain_and_compressed_frames_interleave() -> None:
    """Compressed frames go to websockets, whose inflater keeps its window across messages
    (context takeover); plain frames skip it and must not disturb that window."""
    connection, _ = opened(
        extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=None)],
        response_headers=b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
    )
    assert connection.protocol.extensions and connection._framing
    server_side = PerMessageDeflate(False, False, 15, 15)

    def compressed(message: str) -> bytes:
        frame = Frame(Opcode.TEXT, message.encode())
        return frame.serialize(mask=False, extensions=[server_side])

    messages = ["a" * 1_000 + "x", "plain", "a" * 1_000 + "y", "plain again", "a" * 999]
    stream = (
        compressed(messages[0])
        + text(messages[1])
        + compressed(messages[2])
        + text(messages[3])
        + compressed(messages[4])
    )
    assert stream[0] == 0x80 | 0x40 | TEXT  # RSV1: compressed
    connection.data_received(stream)
    assert received(connection) == messages
    assert connection.protocol.state is State.OPEN


async def test_wire_debug_logging_leaves_every_frame_to_websockets() -> None:
    logger = logging.getLogger("tests.framing.wire")
    logger.setLevel(logging.DEBUG)
    connection, _ = opened(text("a"), logger=logger)
    assert not connection._framing
    connection.data_received(text("b"))
    assert received(connection) == ["a", "b"]


async def test_with_permessage_deflate_compressed_and_plain_frames_both_arrive() -> None:
    """The test server negotiates permessage-deflate: compressed frames are websockets'."""
    async with local_server() as (base, _):
        transport = await asyncio.wait_for(connect(Endpoint.custom(f"{base}/v1/realtime")), TIMEOUT)
        connection = transport._ws
        assert isinstance(connection, DirectConnection)
        assert connection.protocol.extensions and connection._framing
        await transport.send("burst:3")
        await transport.send(f"big:{100_000}")
        got = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in range(4)]
        await transport.close()
    assert got[:3] == ["0", "1", "2"] and len(got[3]) == 100_000


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 100_000])
def test_masked_text_frames_parse_as_websockets_reads_them(size: int) -> None:
    payload = ("é" * size).encode()[:size]  # possibly cut mid-character: the frame is bytes
    mask = os.urandom(4)
    wire = masked_text_frame(payload, mask)
    server = ServerProtocol(state=State.OPEN, max_size=None)
    server.receive_data(wire)
    (parsed,) = server.events_received()
    assert (parsed.opcode, parsed.fin, parsed.data) == (Opcode.TEXT, True, payload)
    header = 2 if size < 126 else 4 if size < 65_536 else 10
    assert wire[header : header + 4] == mask  # the mask given, as the frame's masking key


def test_frames_written_together_each_get_their_own_mask() -> None:
    """One ``os.urandom`` call draws the masks of all the frames of a write."""
    from types import SimpleNamespace

    from agentkit.transport import _write_text_frames

    written: list[bytes] = []
    protocol = SimpleNamespace(
        extensions=[], debug=False, expect_continuation_frame=False, data_to_send=list
    )
    socket = SimpleNamespace(write=written.append, can_write_eof=lambda: True)
    frames = ['{"type":"conversation.item.create"}', '{"type":"response.create"}', "x" * 300]
    _write_text_frames(SimpleNamespace(protocol=protocol, transport=socket), frames)  # type: ignore[arg-type]
    (wire,) = written
    server = ServerProtocol(state=State.OPEN, max_size=None)
    server.receive_data(wire)
    assert [frame.data.decode() for frame in server.events_received()] == frames
    masks = [wire[2:6], wire[2 + 6 + len(frames[0]) : 2 + 6 + len(frames[0]) + 4]]
    assert masks[0] != masks[1]
