"""Messages handed over as parsed (``listen``) or pulled (``recv``), over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from websockets.asyncio.client import ClientConnection

from agentkit._connection import READ_SIZE, DirectConnection
from agentkit.endpoints import Endpoint
from agentkit.errors import ConnectionClosedError
from agentkit.transport import WebSocketTransport, connect
from tests.connection.server import local_server
from tests.support import TIMEOUT


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with local_server() as (url, _):
        yield url


@pytest.fixture
async def transport(base: str) -> AsyncIterator[WebSocketTransport]:
    transport = await asyncio.wait_for(connect(Endpoint.custom(f"{base}/v1/realtime")), TIMEOUT)
    yield transport
    await asyncio.wait_for(transport.close(), TIMEOUT)


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - socket state and callbacks, not events
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), TIMEOUT)


def _connection(transport: WebSocketTransport) -> DirectConnection:
    connection = transport._ws
    assert isinstance(connection, DirectConnection)
    return connection


async def test_listen_delivers_waiting_messages_first_then_live_ones(
    transport: WebSocketTransport,
) -> None:
    await transport.send("burst:3")  # three frames in one write: all parsed together
    assert await asyncio.wait_for(transport.recv(), TIMEOUT) == "0"
    received: list[str | bytes] = []
    assert transport.listen(received.append)
    assert received == ["1", "2"]
    await transport.send("live")
    await _until(lambda: len(received) == 3)
    assert received == ["1", "2", "live"]


async def test_batch_end_follows_the_messages_of_each_chunk(
    transport: WebSocketTransport,
) -> None:
    await transport.send("burst:3")
    assert await asyncio.wait_for(transport.recv(), TIMEOUT) == "0"
    seen: list[str | bytes] = []
    transport.listen(seen.append, lambda: seen.append("|"))
    assert seen == ["1", "2", "|"]  # the messages waiting before listen are a chunk too
    await transport.send("burst:3")  # one write: one chunk read from the socket
    await _until(lambda: len(seen) == 7)
    assert seen == ["1", "2", "|", "0", "1", "2", "|"]


async def test_after_listen_recv_only_reports_the_close(transport: WebSocketTransport) -> None:
    received: list[str | bytes] = []
    transport.listen(received.append)
    await transport.send("one")
    await transport.send("close:1011:gone")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(transport.recv(), TIMEOUT)
    assert (info.value.code, info.value.reason) == (1011, "gone")
    assert received == ["one"]


@pytest.mark.parametrize("listening", [False, True], ids=["recv", "listen"])
async def test_fragmented_messages_are_reassembled(
    transport: WebSocketTransport, listening: bool
) -> None:
    received: list[str | bytes] = []
    if listening:
        transport.listen(received.append)
    await transport.send('fragments:{"a":,1,}')
    await transport.send("after")
    if listening:
        await _until(lambda: len(received) == 2)
    else:
        received = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in range(2)]
    assert received == ['{"a":1}', "after"]


async def test_invalid_utf8_fails_the_connection_with_1007(
    transport: WebSocketTransport,
) -> None:
    await transport.send("bad-utf8")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(transport.recv(), TIMEOUT)
    assert info.value.code == 1007


async def test_unread_messages_pause_reading_until_drained(
    transport: WebSocketTransport,
) -> None:
    socket_transport = _connection(transport).transport
    await transport.send("burst:100")
    await _until(lambda: not socket_transport.is_reading())
    received = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in range(100)]
    assert received == [str(number) for number in range(100)]
    assert socket_transport.is_reading()


async def test_max_queue_sets_when_reading_pauses(base: str) -> None:
    endpoint = Endpoint.custom(f"{base}/v1/realtime")
    transport = await asyncio.wait_for(connect(endpoint, max_queue=(4, 1)), TIMEOUT)
    socket_transport = _connection(transport).transport
    await transport.send("burst:20")
    await _until(lambda: not socket_transport.is_reading())
    for expected in range(18):
        assert await asyncio.wait_for(transport.recv(), TIMEOUT) == str(expected)
    assert not socket_transport.is_reading()  # 2 left: above the low mark of 1
    assert await asyncio.wait_for(transport.recv(), TIMEOUT) == "18"
    assert socket_transport.is_reading()
    await transport.close()


async def test_one_reader_at_a_time(transport: WebSocketTransport) -> None:
    first = asyncio.ensure_future(transport.recv())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await transport.recv()
    await transport.send("hello")
    assert await asyncio.wait_for(first, TIMEOUT) == "hello"


async def test_send_now_writes_in_order_at_once_and_refuses_after_close(
    transport: WebSocketTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket_transport = _connection(transport).transport
    writes: list[int] = []
    write = socket_transport.write

    def counting_write(data: bytes) -> None:
        writes.append(len(data))
        write(data)

    monkeypatch.setattr(socket_transport, "write", counting_write)
    assert not transport.write_paused
    transport.send_now(['{"n":1}', "é" * 70_000, '{"n":3}'])
    assert len(writes) == 1
    echoed = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in range(3)]
    assert echoed == ['{"n":1}', "é" * 70_000, '{"n":3}']
    await transport.close()
    with pytest.raises(ConnectionClosedError):
        transport.send_now(["late"])


async def test_send_now_refuses_once_the_socket_is_gone(transport: WebSocketTransport) -> None:
    """Between a dropped socket and websockets noticing it (connection_lost comes a loop step
    later), a write would vanish: send_now raises instead, so the session keeps the event."""
    _connection(transport).transport.abort()
    with pytest.raises(ConnectionClosedError) as info:
        transport.send_now(["lost?"])
    assert info.value.code == 1006


async def test_another_connection_class_keeps_recv(base: str) -> None:
    endpoint = Endpoint.custom(f"{base}/v1/realtime")
    transport = await asyncio.wait_for(
        connect(endpoint, create_connection=ClientConnection), TIMEOUT
    )
    assert not transport.listen(lambda message: None)
    await transport.send("hello")
    assert await asyncio.wait_for(transport.recv(), TIMEOUT) == "hello"
    await transport.close()


async def test_reads_are_smaller_than_a_message_and_messages_arrive_whole(
    transport: WebSocketTransport,
) -> None:
    """asyncio's 256 KiB reads cost an mmap, mremap and munmap each on some heaps."""
    assert _connection(transport).transport.max_size == READ_SIZE  # type: ignore[attr-defined]
    size = 4 * READ_SIZE + 7
    await transport.send(f"big:{size}")
    assert len(await asyncio.wait_for(transport.recv(), TIMEOUT)) == size
