"""The Realtime wire protocol: events, client event builders, dialect mapping, codec (no I/O)."""

from agentkit.protocol.codec import decode, encode
from agentkit.protocol.config import (
    InputTranscription,
    NoiseReduction,
    ResponseOptions,
    SessionConfig,
    TurnDetection,
)
from agentkit.protocol.dialects import Dialect

__all__ = [
    "Dialect",
    "InputTranscription",
    "NoiseReduction",
    "ResponseOptions",
    "SessionConfig",
    "TurnDetection",
    "decode",
    "encode",
]
