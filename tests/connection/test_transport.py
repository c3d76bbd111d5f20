"""WebSocketTransport against a real local server: headers, frames, closing rules, logs."""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
from collections.abc import AsyncIterator

import pytest
import trustme

from agentkit._connection import READ_SIZE
from agentkit.auth import ApiKey, EntraToken
from agentkit.endpoints import Endpoint
from agentkit.errors import ConnectionClosedError
from agentkit.transport import MemoryTransport, Transport, WebSocketTransport, connect
from tests.connection.fakes import AsyncCredential, Clock
from tests.connection.server import Recorder, local_server
from tests.support import TIMEOUT

KEY = "wire-key-0123456789abcdef"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Recorder]]:
    async with local_server() as value:
        yield value


@pytest.fixture
async def transport(server: tuple[str, Recorder]) -> AsyncIterator[WebSocketTransport]:
    base, _ = server
    transport = await asyncio.wait_for(connect(Endpoint.custom(f"{base}/v1/realtime")), TIMEOUT)
    yield transport
    await asyncio.wait_for(transport.close(), TIMEOUT)


async def _frames(transport: WebSocketTransport) -> list[str | bytes]:
    return [frame async for frame in transport]


async def test_azure_handshake_on_the_wire(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    endpoint = Endpoint.azure(base.replace("ws://", "http://"), "gpt-realtime", KEY)
    transport = await asyncio.wait_for(connect(endpoint), TIMEOUT)
    await transport.close()
    request = recorder.requests[0]
    assert request.path == "/openai/v1/realtime?model=gpt-realtime"
    assert request.headers["api-key"] == KEY
    assert len(request.headers["x-ms-client-request-id"]) == 36
    assert request.headers["User-Agent"].startswith("agentkit-python ")
    assert "OpenAI-Beta" not in request.headers


async def test_entra_and_beta_headers_on_the_wire(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    clock = Clock()
    credential = AsyncCredential(clock=clock)
    entra = EntraToken(credential, clock=clock)
    endpoint = Endpoint.openai("m", entra, beta=True, base_url=f"{base}/v1")
    transport = await asyncio.wait_for(connect(endpoint), TIMEOUT)
    await transport.close()
    request = recorder.requests[0]
    assert request.path == "/v1/realtime?model=m"
    assert request.headers["Authorization"] == "Bearer async-token-1"
    assert request.headers["OpenAI-Beta"] == "realtime=v1"


async def test_query_key_on_the_wire_and_redacted_in_debug_logs(
    server: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    base, recorder = server
    endpoint = Endpoint.custom(f"{base}/openai/v1/realtime?model=d", ApiKey(KEY, in_query=True))
    with caplog.at_level(logging.DEBUG):
        transport = await asyncio.wait_for(connect(endpoint), TIMEOUT)
        await transport.close()
    assert recorder.requests[0].path == f"/openai/v1/realtime?model=d&api-key={KEY}"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("agentkit"))
    assert "api-key=***" in ours and "GET /openai" in ours  # websockets' dump, via our logger
    assert KEY not in ours
    assert KEY not in repr(transport) and transport.url.endswith("api-key=***")


async def test_send_and_recv_text_and_binary(transport: WebSocketTransport) -> None:
    await transport.send('{"type":"session.update"}')
    assert await asyncio.wait_for(transport.recv(), TIMEOUT) == '{"type":"session.update"}'
    await transport.send("binary:abc")
    assert await asyncio.wait_for(transport.recv(), TIMEOUT) == b"abc"


@pytest.mark.parametrize("batching", [True, False], ids=["one-write", "fallback"])
async def test_send_many_delivers_frames_in_order(
    transport: WebSocketTransport, monkeypatch: pytest.MonkeyPatch, batching: bool
) -> None:
    monkeypatch.setattr("agentkit.transport._BATCHING", batching)
    frames = ['{"n":1}', '{"n":2}', "é" * 70_000, '{"n":4}']  # one frame over 64 KiB
    await transport.send_many(frames)
    echoed = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in frames]
    assert echoed == frames


@pytest.mark.parametrize("compression", ["deflate", None], ids=["websockets-framed", "own-frames"])
async def test_send_many_and_send_now_frames_every_length_class(
    server: tuple[str, Recorder], compression: str | None
) -> None:
    """Without an extension agentkit frames writes itself: 7-, 16- and 64-bit lengths."""
    base, _ = server
    endpoint = Endpoint.custom(f"{base}/v1/realtime")
    transport = await asyncio.wait_for(connect(endpoint, compression=compression), TIMEOUT)
    assert bool(transport._ws.protocol.extensions) == (compression is not None)
    frames = ["", "a" * 125, "b" * 126, "é" * 32_767, "c" * 65_536, '{"n":6}']
    await transport.send_many(frames[:3])
    transport.send_now(frames[3:])
    echoed = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in frames]
    await transport.close()
    assert echoed == frames


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="CPython 3.10's TLS transport warns 'unclosed transport' after a clean close "
    "(3.11 rewrote sslproto); the batched write itself is tested over TCP there",
)
async def test_send_many_over_tls_delivers_frames_in_order() -> None:
    """Azure endpoints are wss://: the batched write goes through the TLS transport."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    async with local_server(tls=server_tls) as (base, _):
        endpoint = Endpoint.custom(f"{base}/v1/realtime")
        transport = await asyncio.wait_for(connect(endpoint, ssl=client_tls), TIMEOUT)
        frames = ['{"n":1}', "x" * 100_000, '{"n":3}']
        await transport.send_many(frames)
        echoed = [await asyncio.wait_for(transport.recv(), TIMEOUT) for _ in frames]
        reads = transport._ws.transport._ssl_protocol.max_size  # type: ignore[attr-defined]
        await transport.close()
    assert echoed == frames
    assert reads == READ_SIZE  # TLS reads too stay below glibc's mmap threshold


async def test_send_many_after_close_raises(transport: WebSocketTransport) -> None:
    await transport.close()
    with pytest.raises(ConnectionClosedError):
        await transport.send_many(["one", "two"])


async def test_large_messages_fit_by_default(transport: WebSocketTransport) -> None:
    size = 3 * 2**20  # a few seconds of base64 audio, over websockets' 1 MiB default
    await transport.send(f"big:{size}")
    assert len(await asyncio.wait_for(transport.recv(), TIMEOUT)) == size


async def test_max_size_is_enforced_when_given(server: tuple[str, Recorder]) -> None:
    base, _ = server
    endpoint = Endpoint.custom(f"{base}/v1/realtime")
    transport = await asyncio.wait_for(connect(endpoint, max_size=1024), TIMEOUT)
    await transport.send("big:4096")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(transport.recv(), TIMEOUT)
    assert info.value.code == 1009  # message too big: our own close frame
    assert transport.close_code == 1009


async def test_iteration_ends_on_normal_close(transport: WebSocketTransport) -> None:
    await transport.send("hello")
    await transport.send("close:1000:bye")
    assert await asyncio.wait_for(_frames(transport), TIMEOUT) == ["hello"]
    assert transport.closed and transport.close_code == 1000 and transport.close_reason == "bye"
    with pytest.raises(ConnectionClosedError) as info:
        await transport.recv()
    assert (info.value.code, info.value.reason) == (1000, "bye")


@pytest.mark.parametrize(
    ("code", "reason"), [(1011, "internal error"), (1001, "Your session hit the maximum")]
)
async def test_iteration_raises_on_other_closes(
    transport: WebSocketTransport, code: int, reason: str
) -> None:
    await transport.send(f"close:{code}:{reason}")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(_frames(transport), TIMEOUT)
    assert (info.value.code, info.value.reason) == (code, reason)
    assert info.value.__cause__ is not None


async def test_dropped_socket_is_1006(transport: WebSocketTransport) -> None:
    await transport.send("abort")
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(transport.recv(), TIMEOUT)
    assert info.value.code == 1006
    assert transport.close_code == 1006


async def test_client_close_ends_iteration_and_refuses_sends(
    transport: WebSocketTransport,
) -> None:
    assert not transport.closed and transport.close_code is None

    async def consume() -> list[str | bytes]:
        return await _frames(transport)

    consumer = asyncio.ensure_future(consume())
    await transport.send("one")
    await transport.close(4000, "done")
    assert await asyncio.wait_for(consumer, TIMEOUT) in (["one"], [])
    assert transport.closed and transport.close_code == 4000
    with pytest.raises(ConnectionClosedError):
        await transport.send("late")
    await transport.close()  # idempotent


def test_transports_satisfy_the_protocol(transport: WebSocketTransport) -> None:
    assert isinstance(transport, Transport)
    assert isinstance(MemoryTransport(), Transport)
