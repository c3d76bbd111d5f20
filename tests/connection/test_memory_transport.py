"""MemoryTransport: the in-memory double follows the same closing rules as the real one."""

from __future__ import annotations

import asyncio

import pytest

from agentkit.errors import ConnectionClosedError
from agentkit.transport import MemoryTransport
from tests.support import TIMEOUT


async def _frames(transport: MemoryTransport) -> list[str | bytes]:
    return [frame async for frame in transport]


async def test_pushed_frames_are_received_in_order() -> None:
    transport = MemoryTransport()
    transport.push({"type": "session.created"})
    transport.push(b"\x00")
    transport.push_close()
    frames = await asyncio.wait_for(_frames(transport), TIMEOUT)
    assert frames == ['{"type": "session.created"}', b"\x00"]
    assert transport.closed and transport.close_code == 1000


async def test_sent_frames_are_recorded_and_awaitable() -> None:
    transport = MemoryTransport()
    waiter = asyncio.ensure_future(transport.next_sent())
    await transport.send('{"type":"response.create"}')
    assert await asyncio.wait_for(waiter, TIMEOUT) == '{"type":"response.create"}'
    assert transport.sent_json() == [{"type": "response.create"}]


async def test_abnormal_server_close_raises_and_stays_closed() -> None:
    transport = MemoryTransport()
    transport.push_close(1011, "boom")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(_frames(transport), TIMEOUT)
    assert (info.value.code, info.value.reason) == (1011, "boom")
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(transport.recv(), TIMEOUT)
    with pytest.raises(ConnectionClosedError):
        await transport.send("x")


async def test_client_close_wakes_a_pending_recv_and_ends_iteration() -> None:
    transport = MemoryTransport()
    consumer = asyncio.ensure_future(_frames(transport))
    await asyncio.sleep(0)  # let the consumer block in recv()
    await transport.close(4000, "bye")
    assert await asyncio.wait_for(consumer, TIMEOUT) == []
    assert transport.close_code == 4000 and transport.close_reason == "bye"
    with pytest.raises(ConnectionClosedError):
        await transport.recv()
