"""The session and response configuration, in one dialect-neutral shape.

Applications and agents describe a session once with :class:`SessionConfig`; the dialect module
turns it into the GA nested ``session`` object or the preview flat one. Only the fields that were
set explicitly go on the wire, so ``turn_detection=None`` (turn detection off) differs from leaving
it out (keep the server's value).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AudioFormat",
    "InputTranscription",
    "Modality",
    "NoiseReduction",
    "Reasoning",
    "ReasoningEffort",
    "ResponseOptions",
    "RetentionRatio",
    "SessionConfig",
    "TokenLimits",
    "Truncation",
    "TurnDetection",
]

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
"""Audio encodings: ``pcm16`` is 24 kHz mono 16-bit little-endian; the G.711 ones are 8 kHz."""

Modality = Literal["text", "audio"]

ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]
"""How hard a reasoning model (``gpt-realtime-2`` and later) thinks before it answers."""


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TurnDetection(_Config):
    """Voice activity detection: ``server_vad`` hears silence; ``semantic_vad`` hears meaning."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(default=None, ge=0)
    silence_duration_ms: int | None = Field(default=None, ge=0)
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    idle_timeout_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> TurnDetection:
        # The GA protocol types the two modes apart (SDK ServerVad / SemanticVad) and rejects a
        # whole session.update carrying a field the mode does not have.
        wrong = _SEMANTIC_ONLY if self.type == "server_vad" else _SERVER_ONLY
        given = sorted(name for name in wrong if getattr(self, name) is not None)
        if given:
            raise ValueError(f"{self.type} turn detection has no {', '.join(given)}")
        return self


_SERVER_ONLY = ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")
_SEMANTIC_ONLY = ("eagerness",)


class InputTranscription(_Config):
    """Transcription of user audio. On Azure ``model`` is a transcription *deployment* name."""

    model: str
    language: str | None = None
    prompt: str | None = None


class NoiseReduction(_Config):
    type: Literal["near_field", "far_field"]


class Reasoning(_Config):
    """Reasoning settings of reasoning models (GA only)."""

    effort: ReasoningEffort | None = None


class TokenLimits(_Config):
    post_instructions: int | None = Field(default=None, ge=1)


class RetentionRatio(_Config):
    """Truncate a long conversation down to ``retention_ratio`` of the context at once, so
    truncations come less often and the cache holds longer; ``token_limits`` lowers the limit
    at which truncation starts (tokens after the instructions)."""

    type: Literal["retention_ratio"] = "retention_ratio"
    retention_ratio: float = Field(ge=0.0, le=1.0)
    token_limits: TokenLimits | None = None


Truncation = Literal["auto", "disabled"] | RetentionRatio
"""What the service does when the conversation outgrows the context (GA only): ``"auto"`` drops
the oldest messages, ``"disabled"`` answers with an error instead."""


class SessionConfig(_Config):
    """What ``session.update`` sends, in dialect-neutral names.

    Attributes:
        output_modalities: ``("audio",)`` (audio with a transcript) or ``("text",)``.
        temperature: preview dialect only; the GA protocol has no temperature and drops it.
        extra: raw fields merged into the wire ``session`` object as they are, for settings
            agentkit does not model yet.
    """

    instructions: str | None = None
    output_modalities: tuple[Modality, ...] | None = None
    voice: str | None = None
    input_audio_format: AudioFormat | None = None
    output_audio_format: AudioFormat | None = None
    turn_detection: TurnDetection | None = None
    input_audio_transcription: InputTranscription | None = None
    input_audio_noise_reduction: NoiseReduction | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    speed: float | None = Field(default=None, ge=0.25, le=1.5)
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None
    truncation: Truncation | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    def set_fields(self) -> list[str]:
        """Names of the fields given explicitly, in declaration order; only these go on the wire."""
        given = self.model_fields_set
        return [name for name in type(self).model_fields if name in given and name != "extra"]


class ResponseOptions(_Config):
    """Per-response overrides for ``response.create``; they apply to that response only.

    ``conversation="none"`` makes an out-of-band response that does not write to the
    conversation; give it ``metadata`` to recognise its ``response.done``.
    """

    instructions: str | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    output_modalities: tuple[Modality, ...] | None = None
    voice: str | None = None
    output_audio_format: AudioFormat | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    metadata: dict[str, str] | None = None
    conversation: Literal["auto", "none"] | None = None
    input: tuple[dict[str, Any], ...] | None = None
    temperature: float | None = None
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None
