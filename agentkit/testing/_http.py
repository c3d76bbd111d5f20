"""A minimal HTTP/1.1 server on 127.0.0.1 for the simulator's REST routes and test receivers.

One request per connection (``Connection: close``), bodies by ``Content-Length``: enough for
JSON and SDP posts from ``urllib`` and for webhook deliveries, with no dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

__all__ = ["HttpRequest", "HttpResponse", "HttpServer"]

log = logging.getLogger("agentkit.testing")

MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class HttpRequest:
    """One request: header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    """One response; ``body`` is sent as it is."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HttpServer:
    """Serves ``handler`` on ``host`` (a free port unless one is given)."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> HttpServer:
        """Listen; a second call does nothing."""
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                response = HttpResponse(400, b"malformed request\n")
            else:
                response = await self._answer(request)
            writer.write(_encode(response))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, or sent a head larger than the stream's limit
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self.handler(request)
        except Exception:  # a bug in a handler costs the client a 500, not a hang
            log.exception("the HTTP handler failed on %s %s", request.method, request.path)
            return HttpResponse(500, b"internal error\n")


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return None
    if not 0 <= length <= MAX_BODY:
        return None
    body = await reader.readexactly(length) if length else b""
    return HttpRequest(method=parts[0].upper(), path=parts[1], headers=headers, body=body)


def _encode(response: HttpResponse) -> bytes:
    reason = HTTPStatus(response.status).phrase
    headers = {"Content-Length": str(len(response.body)), "Connection": "close"}
    headers.update(response.headers)
    head = f"HTTP/1.1 {response.status} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode("latin-1") + response.body
