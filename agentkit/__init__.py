"""agentkit: function-calling agents on the Realtime API over WebSockets.

    from agentkit import Agent, Endpoint, Session, tool

The public API is what this module, :mod:`agentkit.events`, :mod:`agentkit.testing`,
:mod:`agentkit.audio` and, with the ``mcp`` extra, :mod:`agentkit.mcp` export
(``docs/reference.md`` lists all of it, checked by a test); this module never imports
:mod:`agentkit.mcp`. Other modules are internal and may change between releases.
"""

from __future__ import annotations

import logging

from agentkit.agent import Agent
from agentkit.answer import Answer, AnswerTimeoutError, ToolCall
from agentkit.approval import Approval, ApprovalHook, ToolCallRequest
from agentkit.aside import AsideResult
from agentkit.auth import ApiKey, BearerKey, EntraToken
from agentkit.background import (
    BackgroundError,
    InMemorySessionStore,
    Lease,
    LeaseLostError,
    SessionRecord,
    SessionStore,
)
from agentkit.calls import (
    CallAnswer,
    CallControl,
    CallRequestError,
    ClientSecret,
    IncomingCall,
    Keypad,
    MediaNotOwnedError,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    SidebandSession,
    SipHeader,
    WebhookVerificationError,
    WebhookVerifier,
    mint_client_secret,
)
from agentkit.endpoints import Endpoint
from agentkit.errors import (
    AgentkitError,
    AuthenticationError,
    ConfigurationError,
    ConnectionClosedError,
    ConnectionFailedError,
    CredentialError,
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
from agentkit.events import GuardrailVerdict
from agentkit.guardrails import InputGuardrail, OutputGuardrail, input_guardrail, output_guardrail
from agentkit.handoffs import Handoff, handoff, handoff_back
from agentkit.history import HistoryItem
from agentkit.hosted_mcp import HostedMCP
from agentkit.images import Image, ImageError, ImageTooLargeError
from agentkit.models import ModelProfile, UnsupportedOptionError
from agentkit.protocol.config import (
    InputTranscription,
    Reasoning,
    ResponseOptions,
    RetentionRatio,
    SessionConfig,
    TokenLimits,
    TurnDetection,
)
from agentkit.protocol.dialects import Dialect
from agentkit.reconnect import ReconnectPolicy
from agentkit.session import Session, SessionOptions
from agentkit.tools import Tool, ToolContext, ToolResult, Toolset, tool
from agentkit.usage import PriceTable, TokenPrices, TokenUsage

__version__ = "0.1.0"

logging.getLogger("agentkit").addHandler(logging.NullHandler())

__all__ = [
    "Agent",
    "AgentkitError",
    "Answer",
    "AnswerTimeoutError",
    "ApiKey",
    "Approval",
    "ApprovalHook",
    "AsideResult",
    "AuthenticationError",
    "BackgroundError",
    "BearerKey",
    "CallAnswer",
    "CallControl",
    "CallRequestError",
    "ClientSecret",
    "ConfigurationError",
    "ConnectionClosedError",
    "ConnectionFailedError",
    "CredentialError",
    "DeploymentNotFoundError",
    "Dialect",
    "Endpoint",
    "EntraToken",
    "GuardrailVerdict",
    "Handoff",
    "HandshakeError",
    "HistoryItem",
    "HostedMCP",
    "Image",
    "ImageError",
    "ImageTooLargeError",
    "InMemorySessionStore",
    "IncomingCall",
    "InputGuardrail",
    "InputTranscription",
    "Keypad",
    "Lease",
    "LeaseLostError",
    "MediaNotOwnedError",
    "MemoryReplayStore",
    "MissingSettingError",
    "ModelProfile",
    "OutputGuardrail",
    "PriceTable",
    "ProtocolError",
    "RateLimitedError",
    "Reasoning",
    "ReconnectGaveUpError",
    "ReconnectPolicy",
    "RedisReplayStore",
    "ReplayStore",
    "ResponseOptions",
    "RetentionRatio",
    "ServerError",
    "Session",
    "SessionClosedError",
    "SessionConfig",
    "SessionOptions",
    "SessionRecord",
    "SessionStore",
    "SidebandSession",
    "SipHeader",
    "TokenLimits",
    "TokenPrices",
    "TokenUsage",
    "Tool",
    "ToolCall",
    "ToolCallRequest",
    "ToolContext",
    "ToolDefinitionError",
    "ToolResult",
    "Toolset",
    "TurnDetection",
    "UnsupportedOptionError",
    "WebhookVerificationError",
    "WebhookVerifier",
    "__version__",
    "handoff",
    "handoff_back",
    "input_guardrail",
    "mint_client_secret",
    "output_guardrail",
    "tool",
]
