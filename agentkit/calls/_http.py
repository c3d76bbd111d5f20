"""The REST side of the realtime service: one authenticated POST, stdlib only.

The endpoint's credential authorizes each request exactly as it authorizes a WebSocket
handshake; the request runs in a worker thread so the event loop keeps moving audio. Nothing
here logs a header, and every message that could echo a URL or a server text is redacted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from agentkit._redact import redact
from agentkit.endpoints import Endpoint
from agentkit.errors import AgentkitError, ConfigurationError, ConnectionFailedError
from agentkit.protocol.dialects import Dialect

if TYPE_CHECKING:
    import urllib.request

__all__ = ["CallRequestError", "HttpReply", "api_base", "post"]


class CallRequestError(AgentkitError):
    """The service refused a REST request (minting a secret, accepting a call...).

    Attributes:
        status: the HTTP status.
        server_message: the service's error message, redacted.
    """

    def __init__(self, what: str, status: int, server_message: str = "") -> None:
        self.status = status
        self.server_message = server_message
        detail = f": {server_message}" if server_message else ""
        super().__init__(f"{what} refused with HTTP {status}{detail}")


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body or b"{}")
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return value


def api_base(endpoint: Endpoint, override: str | None = None) -> str:
    """The HTTPS base of the realtime REST routes, e.g. ``https://api.openai.com/v1/realtime``.

    Derived from the endpoint's GA URL (``wss`` becomes ``https``, the query goes); ``override``
    wins, for a gateway or the simulator's HTTP port.
    """
    if override:
        return override.rstrip("/")
    if endpoint.dialect is not Dialect.GA:
        raise ConfigurationError("calls and client secrets need the GA protocol (/v1/realtime)")
    parts = urlsplit(endpoint.url)
    scheme = {"wss": "https", "ws": "http"}[parts.scheme]
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


async def post(
    endpoint: Endpoint,
    url: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    accept: str = "application/json",
    timeout: float = 10.0,
) -> HttpReply:
    """POST ``body`` to ``url`` with the endpoint's credential; any status comes back.

    Raises:
        ConnectionFailedError: the service could not be reached.
    """
    import urllib.request  # here: importing it costs every user of agentkit ~10 ms

    handshake = await endpoint.handshake()
    headers = {k: v for k, v in handshake.headers.items() if k.lower() != "openai-beta"}
    headers.update({"Content-Type": content_type, "Accept": accept})
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    return await asyncio.to_thread(_send, request, timeout)


def _send(request: urllib.request.Request, timeout: float) -> HttpReply:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpReply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpReply(exc.code, dict(exc.headers.items()), exc.read())
    except (urllib.error.URLError, OSError) as exc:
        where = redact(request.full_url)
        raise ConnectionFailedError(f"could not reach {where}: {redact(str(exc))}") from None


def refused(what: str, reply: HttpReply) -> CallRequestError:
    """The error for a refused request, with the service's message when it sent one."""
    try:
        error = reply.json().get("error")
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
    except ValueError:
        message = reply.body[:200].decode("utf-8", "replace").strip()
    return CallRequestError(what, reply.status, redact(message))
