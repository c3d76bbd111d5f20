"""The agentkit error tree.

Every exception agentkit raises derives from :class:`AgentkitError`; foreign exceptions
(websockets, azure-identity, pydantic) are mapped at the boundary and chained with ``from``::

    AgentkitError
    ├── ConfigurationError            bad or missing settings, detected before any I/O
    │   ├── MissingSettingError       a required setting (argument or env var) is absent
    │   ├── CredentialError           the credential cannot produce a token (not retried)
    │   └── UnsupportedOptionError    the endpoint's model lacks an option (agentkit.models)
    ├── ImageError                    an image cannot be sent (agentkit.images)
    │   └── ImageTooLargeError        over the size limit
    ├── AnswerTimeoutError            ask or aside got no answer in time (an asyncio.TimeoutError)
    ├── ToolDefinitionError           a tool's signature cannot become a schema (decoration time)
    ├── ProtocolError                 an event that cannot be decoded or makes no sense
    ├── ServerError                   an ``error`` event sent by the service
    ├── ConnectionFailedError         the socket could not be opened or was lost
    │   ├── HandshakeError            the server refused the WebSocket upgrade (has ``status``)
    │   │   ├── AuthenticationError   401 / 403
    │   │   ├── DeploymentNotFoundError 404
    │   │   └── RateLimitedError      429 (has ``retry_after``)
    │   ├── ConnectionClosedError     the socket closed (has ``code`` and ``reason``)
    │   └── ReconnectGaveUpError      the retry budget ran out
    └── SessionClosedError            an operation on a session that is closed

Tool *failures* are not exceptions here: they become outputs for the model.
Messages never contain secrets; callers pass already-redacted text.
"""

from __future__ import annotations

__all__ = [
    "AgentkitError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionClosedError",
    "ConnectionFailedError",
    "CredentialError",
    "DeploymentNotFoundError",
    "HandshakeError",
    "MissingSettingError",
    "ProtocolError",
    "RateLimitedError",
    "ReconnectGaveUpError",
    "ServerError",
    "SessionClosedError",
    "ToolDefinitionError",
]


class AgentkitError(Exception):
    """Root of every error agentkit raises."""


class ConfigurationError(AgentkitError):
    """Settings are invalid; raised before any connection is attempted."""


class MissingSettingError(ConfigurationError):
    """A required setting is missing.

    Attributes:
        setting: the argument name and/or environment variable that was expected.
    """

    def __init__(self, setting: str, hint: str = "") -> None:
        self.setting = setting
        message = f"missing setting: {setting}"
        super().__init__(f"{message} ({hint})" if hint else message)


class CredentialError(ConfigurationError):
    """The credential could not produce a token: not signed in, no access, wrong tenant.

    Retrying cannot fix it, so reconnection gives up at once instead of looping.
    """


class ToolDefinitionError(AgentkitError):
    """A function cannot be turned into a tool; names the function and parameter."""

    def __init__(self, function: str, message: str, parameter: str | None = None) -> None:
        self.function = function
        self.parameter = parameter
        where = f"{function}(), parameter {parameter!r}" if parameter else f"{function}()"
        super().__init__(f"cannot make a tool from {where}: {message}")


class ProtocolError(AgentkitError):
    """An incoming frame could not be decoded, or an event broke the protocol."""


class ServerError(AgentkitError):
    """The service sent an ``error`` event.

    Attributes:
        code: the service's error code (``conversation_already_has_active_response``...), if any.
        error_type: ``invalid_request_error``, ``server_error``...
        event_id: the ``event_id`` of the client event that caused it, if the server echoed it.
        param: the offending parameter, if the server named it.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        error_type: str | None = None,
        event_id: str | None = None,
        param: str | None = None,
    ) -> None:
        self.code = code
        self.error_type = error_type
        self.event_id = event_id
        self.param = param
        super().__init__(f"{code or error_type or 'error'}: {message}")


class ConnectionFailedError(AgentkitError):
    """The connection could not be opened, or was lost."""


class HandshakeError(ConnectionFailedError):
    """The server answered the WebSocket upgrade with an HTTP error.

    Attributes:
        status: the HTTP status code.
        server_message: the body's error message, if the server sent one.
    """

    def __init__(self, status: int, server_message: str = "", *, url: str = "") -> None:
        self.status = status
        self.server_message = server_message
        self.url = url
        where = f" from {url}" if url else ""
        detail = f": {server_message}" if server_message else ""
        super().__init__(f"handshake refused with HTTP {status}{where}{detail}")


class AuthenticationError(HandshakeError):
    """401 or 403: the credential is missing, wrong, expired or lacks the role."""


class DeploymentNotFoundError(HandshakeError):
    """404: the deployment, model or path does not exist."""


class RateLimitedError(HandshakeError):
    """429: throttled. ``retry_after`` holds the server's hint in seconds, if any."""

    def __init__(
        self,
        status: int,
        server_message: str = "",
        *,
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, server_message, url=url)


class ConnectionClosedError(ConnectionFailedError):
    """The socket closed. ``code`` and ``reason`` come from the close frame (1006 if none)."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"connection closed with code {code}" + (f": {reason}" if reason else ""))


class SessionClosedError(AgentkitError):
    """The session is closed; nothing more can be sent on it."""


class ReconnectGaveUpError(ConnectionFailedError):
    """Reconnection stopped: the retry budget ran out or the error cannot succeed on retry."""
