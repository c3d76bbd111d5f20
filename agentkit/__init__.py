"""agentkit: function-calling agents on the Realtime API over WebSockets."""

from __future__ import annotations

from agentkit.errors import (
    AgentkitError,
    AuthenticationError,
    ConfigurationError,
    ConnectionClosedError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    HandshakeError,
    MissingSettingError,
    ProtocolError,
    RateLimitedError,
    ReconnectGaveUpError,
    ServerError,
    SessionClosedError,
    ToolDefinitionError,
)
from agentkit.protocol.dialects import Dialect

__version__ = "0.1.0"

__all__ = [
    "AgentkitError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionClosedError",
    "ConnectionFailedError",
    "DeploymentNotFoundError",
    "Dialect",
    "HandshakeError",
    "MissingSettingError",
    "ProtocolError",
    "RateLimitedError",
    "ReconnectGaveUpError",
    "ServerError",
    "SessionClosedError",
    "ToolDefinitionError",
    "__version__",
]
