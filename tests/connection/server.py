"""A tiny local WebSocket server for the loopback tier: scripted refusals and an echo handler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

AZURE_ERRORS = {
    401: ("401", "Access denied due to invalid subscription key or wrong API endpoint."),
    403: ("PermissionDenied", "The principal lacks the Cognitive Services OpenAI User role."),
    404: ("DeploymentNotFound", "The API deployment for this resource does not exist."),
    429: ("429", "Requests to the Realtime API have exceeded the rate limit."),
    500: ("InternalServerError", "The server had an error."),
    400: ("OperationNotSupported", "The deployment does not support the realtime operation."),
}


@dataclass
class Recorder:
    """What the server saw, and how it should answer."""

    requests: list[Request] = field(default_factory=list)
    refuse: int | None = None
    body: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def _process_request(recorder: Recorder):  # type: ignore[no-untyped-def]
    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        recorder.requests.append(request)
        if recorder.refuse is None:
            return None
        code, message = AZURE_ERRORS.get(recorder.refuse, ("error", "refused"))
        body = recorder.body
        if body is None:
            body = json.dumps({"error": {"code": code, "message": message}})
        response = connection.respond(recorder.refuse, body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        for name, value in recorder.extra_headers.items():
            response.headers[name] = value
        return response

    return process_request


async def _handler(connection: ServerConnection) -> None:
    """Echo, plus commands: ``close:CODE:REASON``, ``abort``, ``big:N``, ``binary:TEXT``,
    ``burst:N`` (N numbered messages at once), ``fragments:A,B,C`` (one message in fragments)
    and ``bad-utf8`` (a text frame that is not UTF-8)."""
    with contextlib.suppress(ConnectionClosed):
        await _serve(connection)


async def _serve(connection: ServerConnection) -> None:
    async for message in connection:
        assert isinstance(message, str)
        command, _, argument = message.partition(":")
        if command == "close":
            code, _, reason = argument.partition(":")
            await connection.close(int(code), reason)
        elif command == "abort":
            assert connection.transport is not None
            connection.transport.abort()
        elif command == "big":
            await connection.send("x" * int(argument))
        elif command == "binary":
            await connection.send(argument.encode())
        elif command == "burst":
            async with connection.send_context():
                for number in range(int(argument)):
                    connection.protocol.send_text(str(number).encode())
        elif command == "fragments":
            await connection.send(iter(argument.split(",")))
        elif command == "bad-utf8":
            async with connection.send_context():
                connection.protocol.send_text(b'{"type":"\xff"}')
        else:
            await connection.send(message)


@asynccontextmanager
async def local_server(
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[str, Recorder]]:
    """Serve on 127.0.0.1 on a free port; yield its base URL (``wss://`` with ``tls``) and the
    recorder."""
    recorder = Recorder()
    async with serve(
        _handler,
        "127.0.0.1",
        0,
        process_request=_process_request(recorder),
        max_size=None,
        ssl=tls,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"{'wss' if tls else 'ws'}://127.0.0.1:{port}", recorder


@asynccontextmanager
async def raw_server(reply: bytes | None) -> AsyncIterator[str]:
    """A TCP server that answers the upgrade with ``reply`` (or never answers)."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        if reply is not None:
            writer.write(reply)
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
