"""Moving frames: the :class:`Transport` seam and its ``websockets`` implementation.

Everything above this module takes a :class:`Transport` (``send``, ``recv``, ``async for``,
``close``), so it can be tested with :class:`MemoryTransport` or the loopback simulator.

:class:`WebSocketTransport` has two optional fast paths the session uses when present:
``listen(callback)`` hands each message over inside the protocol callback (see
:mod:`agentkit._connection`), and ``send_now(frames)`` writes replies without awaiting. A
transport without them is read with ``recv()`` and written with ``send()``.

Closing semantics (one rule for every transport):

* ``recv()`` and ``send()`` raise :class:`~agentkit.errors.ConnectionClosedError` once the
  socket is closed, whatever the code (1006 when no close frame arrived).
* ``async for frame in transport`` ends quietly when the close was *normal*: code 1000, or a
  close this side started with :meth:`~Transport.close`. Any other code (1001 "going away" at
  session expiry, 1011, 1006...) is raised, because it is a reason to reconnect.

:func:`connect` maps handshake failures to the error tree (docs/protocol.md, "Handshake
failures"):

======================  ============================================================
401 / 403               :class:`~agentkit.errors.AuthenticationError`
404                     :class:`~agentkit.errors.DeploymentNotFoundError`
429                     :class:`~agentkit.errors.RateLimitedError` (``retry_after``)
any other HTTP status   :class:`~agentkit.errors.HandshakeError`
network, timeout, junk  :class:`~agentkit.errors.ConnectionFailedError`
bad URI / proxy         :class:`~agentkit.errors.ConfigurationError`
======================  ============================================================
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import platform
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidProxy, InvalidStatus
from websockets.exceptions import InvalidURI as WsInvalidURI
from websockets.frames import Close
from websockets.protocol import State
from websockets.version import version as websockets_version

from agentkit._closing import frames_until_normal_close
from agentkit._connection import BatchEnd, DirectConnection, Listener, masked_text_frame
from agentkit._memory_transport import MemoryTransport
from agentkit._redact import RedactingFilter, redact
from agentkit.endpoints import Endpoint, is_loopback
from agentkit.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionClosedError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    HandshakeError,
    RateLimitedError,
)

__all__ = [
    "MemoryTransport",
    "Transport",
    "WebSocketTransport",
    "connect",
    "handshake_error",
    "parse_retry_after",
    "server_message",
]

logger = logging.getLogger(__name__)

# websockets logs the request line and headers at DEBUG; give it a logger that redacts them.
wire_logger = logging.getLogger("agentkit.transport.wire")
wire_logger.addFilter(RedactingFilter())

ABNORMAL_CLOSURE = 1006
_MESSAGE_LIMIT = 500
USER_AGENT = f"agentkit-python websockets/{websockets_version} Python/{platform.python_version()}"


@runtime_checkable
class Transport(Protocol):
    """A full-duplex stream of text frames; the only I/O the layers above see."""

    async def send(self, data: str) -> None:
        """Send one text frame; raises ``ConnectionClosedError`` if the socket is closed."""
        ...

    async def recv(self) -> str | bytes:
        """Receive one frame; raises ``ConnectionClosedError`` when the socket is closed."""
        ...

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Yield frames until a normal close; raise ``ConnectionClosedError`` otherwise."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the socket (idempotent)."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the socket is closing or closed."""
        ...


# Batched writes use websockets' sans-I/O protocol under the connection's own send context
# (flow control and closing rules stay websockets'); present in every 13.x+ asyncio client.
_BATCHING = hasattr(ClientConnection, "send_context")


class WebSocketTransport:
    """A :class:`Transport` over a ``websockets`` client connection.

    Attributes:
        url: the redacted URL, for messages and logs.
        response_headers: the server's handshake response headers (``apim-request-id``,
            ``x-request-id``... are worth quoting in support tickets).
    """

    __slots__ = ("_closing_locally", "_ws", "url")

    def __init__(self, connection: ClientConnection, *, url: str) -> None:
        self._ws = connection
        self.url = url
        self._closing_locally = False

    @property
    def response_headers(self) -> Mapping[str, str]:
        """Read from the handshake response websockets keeps, when asked (rarely)."""
        response = self._ws.response
        return dict(response.headers.raw_items()) if response else {}

    async def send(self, data: str) -> None:
        """Send one text frame."""
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc

    async def send_many(self, frames: Sequence[str]) -> None:
        """Send text frames in order, written to the socket together.

        A tool round's output and its ``response.create`` leave in one TCP write instead of
        two: one system call here, and the service reads both at once. Falls back to one
        ``send`` per frame on a ``websockets`` without the sans-I/O hooks used.
        """
        ws = self._ws
        if len(frames) == 1 or not _BATCHING:
            for frame in frames:
                await self.send(frame)
            return
        try:
            async with ws.send_context():
                _write_text_frames(ws, frames)
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc

    def send_now(self, frames: Sequence[str]) -> None:
        """Write text frames at once, without waiting for the socket's buffer to drain.

        For the dispatcher's replies, written from inside a callback where nothing can be
        awaited, in one TCP write like :meth:`send_many`. Like ``websockets.broadcast`` it
        skips flow control: check :attr:`write_paused` first and use :meth:`send` while the
        buffer is full, as the session does.

        Raises:
            ConnectionClosedError: the connection is closing or closed; nothing was written.
        """
        ws = self._ws
        protocol = ws.protocol
        if protocol.state is not State.OPEN:
            raise _closing_error(protocol.close_rcvd or protocol.close_sent)
        if ws.transport.is_closing():  # the socket is gone; websockets has not noticed yet
            raise _closing_error(None)
        _write_text_frames(ws, frames)

    @property
    def write_paused(self) -> bool:
        """Whether the socket's write buffer is above its high-water mark."""
        return bool(self._ws.paused)

    def listen(self, listener: Listener, batch_end: BatchEnd | None = None) -> bool:
        """Hand every incoming message to ``listener`` as soon as it is parsed.

        Messages that arrived before go first, in order. From then on :meth:`recv` only waits
        for the close. ``batch_end`` runs after the messages of each chunk read from the
        socket (a session tells its application what the chunk meant there). Both run inside
        the protocol callback: they must not raise.

        Returns:
            False, and nothing changes, when the connection was made with another
            ``create_connection`` class: read with :meth:`recv` then.
        """
        ws = self._ws
        if not isinstance(ws, DirectConnection):
            return False
        ws.listen(listener, batch_end)
        return True

    def pause_reading(self) -> None:
        """Stop reading the socket (a listening session's backpressure; idempotent)."""
        self._ws.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read the socket again after :meth:`pause_reading` (idempotent)."""
        self._ws.transport.resume_reading()

    async def recv(self) -> str | bytes:
        """Receive one frame (``str`` for text, ``bytes`` for binary)."""
        ws = self._ws
        try:
            if isinstance(ws, DirectConnection):
                return await ws.next_message()
            return await ws.recv()
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Yield frames until a normal close (see the module docstring)."""
        return frames_until_normal_close(self.recv, lambda: self._closing_locally)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake (bounded by ``close_timeout``); idempotent."""
        self._closing_locally = self._closing_locally or not self.closed
        await self._ws.close(code, reason)

    @property
    def closed(self) -> bool:
        """Whether the socket is closing or closed."""
        return self._ws.state in (State.CLOSING, State.CLOSED)

    @property
    def close_code(self) -> int | None:
        """The close code once closed, as :class:`ConnectionClosedError` reports it."""
        frame = self._close_frame()
        return None if frame is None else frame[0]

    @property
    def close_reason(self) -> str | None:
        """The close reason once closed, else ``None``."""
        frame = self._close_frame()
        return None if frame is None else frame[1]

    def _close_frame(self) -> tuple[int, str] | None:
        protocol = self._ws.protocol
        if protocol.state is not State.CLOSED:
            return None
        frame = protocol.close_rcvd or protocol.close_sent
        if frame is None:
            return ABNORMAL_CLOSURE, ""
        return frame.code, redact(frame.reason)

    def __repr__(self) -> str:
        return f"WebSocketTransport(url={self.url!r}, state={self._ws.state.name})"


async def connect(
    endpoint: Endpoint,
    *,
    open_timeout: float | None = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float | None = 10.0,
    max_size: int | None = None,
    **options: Any,
) -> WebSocketTransport:
    """Open a WebSocket to ``endpoint`` with fresh credentials.

    Args:
        endpoint: where to connect; :meth:`Endpoint.handshake` is awaited first.
        open_timeout: seconds for TCP + TLS + upgrade (``None``: no limit).
        ping_interval: seconds between keepalive pings (``None`` disables them).
        ping_timeout: seconds to wait for a pong before closing with 1011.
        close_timeout: seconds to wait for the closing handshake.
        max_size: largest incoming message in bytes. ``None`` (no limit) by default, like the
            OpenAI SDK: events such as ``conversation.item.retrieved`` carry whole audio clips,
            well over the ``websockets`` default of 1 MiB.
        **options: passed to ``websockets.asyncio.client.connect`` (``ssl``, ``proxy``,
            ``compression``...). A system proxy is never used for loopback hosts.

    Returns:
        The open transport.

    Raises:
        AuthenticationError: 401 / 403.
        DeploymentNotFoundError: 404.
        RateLimitedError: 429, with ``retry_after`` from the response headers.
        HandshakeError: any other refusal.
        ConnectionFailedError: network failure, timeout, or a non-HTTP answer.
        ConfigurationError: an invalid URI or proxy setting.
    """
    handshake = await endpoint.handshake()
    url = endpoint.redacted_url
    if is_loopback(urlsplit(handshake.url).hostname or ""):
        options.setdefault("proxy", None)
    options.setdefault("create_connection", DirectConnection)
    try:
        connection = await ws_connect(
            handshake.url,
            additional_headers=handshake.headers,
            user_agent_header=USER_AGENT,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=max_size,
            logger=wire_logger,
            **options,
        )
    except InvalidStatus as exc:
        response = exc.response
        headers = dict(response.headers.raw_items())
        raise handshake_error(response.status_code, headers, response.body, url=url) from exc
    except (WsInvalidURI, InvalidProxy) as exc:
        raise ConfigurationError(f"cannot connect to {url}: {redact(str(exc))}") from _scrubbed(
            exc, url
        )
    except (OSError, asyncio.TimeoutError, InvalidHandshake, ConnectionClosed, EOFError) as exc:
        raise ConnectionFailedError(f"could not connect to {url}: {_describe(exc)}") from exc
    transport = WebSocketTransport(connection, url=url)
    logger.debug("connected to %s (%s)", url, _request_id(transport.response_headers))
    return transport


def handshake_error(
    status: int, headers: Mapping[str, str], body: bytes | bytearray, *, url: str
) -> HandshakeError:
    """Map a refused upgrade to the error tree (pure: status, headers and body in, error out).

    Args:
        status: the HTTP status code.
        headers: the response headers (``Retry-After``, ``retry-after-ms``...).
        body: the response body; its JSON error message becomes ``server_message``.
        url: the *redacted* URL, for the message.
    """
    message = server_message(body)
    if status in (401, 403):
        return AuthenticationError(status, message, url=url)
    if status == 404:
        return DeploymentNotFoundError(status, message, url=url)
    if status == 429:
        return RateLimitedError(status, message, url=url, retry_after=parse_retry_after(headers))
    return HandshakeError(status, message, url=url)


def server_message(body: bytes | bytearray, limit: int = _MESSAGE_LIMIT) -> str:
    """Extract the human message from an error body, redacted and truncated.

    Understands Azure's and OpenAI's ``{"error": {"code", "message"}}``, a bare
    ``{"error": "..."}`` or ``{"message": "..."}``, and falls back to the text itself.
    """
    text = bytes(body).decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    message = _message_from_json(payload) if payload is not None else None
    cleaned = redact(" ".join((message if message is not None else text).split()))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _message_from_json(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return None
    error = payload.get("error", payload)
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return None
    message, code = error.get("message"), error.get("code")
    if not isinstance(message, str):
        return str(code) if code else None
    return f"{code}: {message}" if isinstance(code, (str, int)) and code else message


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait before retrying, from the response headers, or ``None``.

    Azure sends ``retry-after-ms`` / ``x-ms-retry-after-ms`` (more precise, preferred) and
    ``Retry-After``, which is either seconds or an HTTP date (RFC 9110 §10.2.3).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        milliseconds = _non_negative_float(lowered.get(name))
        if milliseconds is not None:
            return milliseconds / 1000
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative_float(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _non_negative_float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 and number == number else None


def _closed_error(exc: ConnectionClosed) -> ConnectionClosedError:
    """The peer's close frame, else ours (1009 too big, 1011 ping timeout), else 1006."""
    frame = exc.rcvd or exc.sent
    if frame is None:
        return ConnectionClosedError(ABNORMAL_CLOSURE, "no close frame received")
    return ConnectionClosedError(frame.code, redact(frame.reason))


def _write_text_frames(ws: ClientConnection, frames: Sequence[str]) -> None:
    """Frame the messages and write them all at once (websockets' own ``send_data`` writes
    each frame's bytes separately). agentkit frames them itself, unless an extension
    (permessage-deflate) may compress them or websockets' wire debug log is on: then
    websockets' sans-I/O protocol does."""
    protocol = ws.protocol
    if protocol.extensions or protocol.debug or protocol.expect_continuation_frame:
        for frame in frames:
            protocol.send_text(frame.encode())
        chunks = protocol.data_to_send()
    else:
        chunks = protocol.data_to_send()  # anything websockets queued goes first
        masks = os.urandom(4 * len(frames))  # one system call for every frame's mask
        for index, frame in enumerate(frames):
            chunks.append(masked_text_frame(frame.encode(), masks[4 * index : 4 * index + 4]))
    ws.transport.write(b"".join(chunks))
    if not all(chunks) and ws.transport.can_write_eof():
        ws.transport.write_eof()  # an empty chunk asks for a half-close


def _closing_error(frame: Close | None) -> ConnectionClosedError:
    """For a write refused while closing: the close frame sent or received so far, if any."""
    if frame is None:
        return ConnectionClosedError(ABNORMAL_CLOSURE, "the connection is closing")
    return ConnectionClosedError(frame.code, redact(frame.reason))


def _describe(exc: BaseException) -> str:
    text = redact(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _scrubbed(exc: WsInvalidURI | InvalidProxy, url: str) -> Exception:
    """Redact the URI inside ``exc``: its ``str`` is printed in chained tracebacks."""
    if isinstance(exc, WsInvalidURI):
        exc.uri = url
    else:
        exc.proxy = redact(exc.proxy)
    return exc


def _request_id(headers: Mapping[str, str]) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in ("apim-request-id", "x-request-id", "x-ms-request-id"):
        if name in lowered:
            return f"{name}={lowered[name]}"
    return "no request id"
