"""Model profiles: which options each realtime model family accepts, checked before connecting.

One table, :data:`PROFILES`, says per model family whether it takes images and reasoning, which
voices, audio formats and transcription models it accepts, and how large its context is. A
session checks its configuration against the profile of its endpoint's model before the socket
opens, so a wrong option fails at once with an error naming the model and the option, instead of
as an ``error`` event from the service mid-conversation.

The model family comes from the endpoint: the ``model=`` of an OpenAI URL, or what the user
states for an Azure deployment (``Endpoint.azure(..., model="gpt-realtime-2")`` or
``AZURE_OPENAI_MODEL``). A deployment's name is never taken for a model. An unknown or unstated
family means no checks. Where a fact is not documented, the profile leaves it open (``None``)
rather than refuse what might be valid; ``docs/models.md`` lists the sources and the gaps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentkit.errors import ConfigurationError
from agentkit.protocol.config import ResponseOptions, SessionConfig

__all__ = [
    "AUDIO_FORMATS",
    "BUILTIN_VOICES",
    "PROFILES",
    "REASONING_EFFORTS",
    "TRANSCRIPTION_MODELS",
    "ModelProfile",
    "UnsupportedOptionError",
    "check_images",
    "check_session_config",
    "profile_for",
]

logger = logging.getLogger(__name__)

BUILTIN_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
"""The GA protocol's built-in voices (``marin`` and ``cedar`` came with ``gpt-realtime``)."""

_PREVIEW_VOICES = BUILTIN_VOICES[:-2]

AUDIO_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
"""Every family takes all three (GA names: ``audio/pcm``, ``audio/pcmu``, ``audio/pcma``)."""

REASONING_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
"""``reasoning.effort`` values of the GA protocol (OpenAI's SDK, ``RealtimeReasoningEffort``)."""

TRANSCRIPTION_MODELS = (
    "whisper-1", "gpt-transcribe", "gpt-live-transcribe", "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15", "gpt-4o-transcribe", "gpt-4o-transcribe-diarize",
    "gpt-realtime-whisper",
)  # fmt: skip
"""Input transcription models on OpenAI. On Azure the field names a *deployment*, so it is not
checked there."""


@dataclass(frozen=True)
class ModelProfile:
    """What one model family accepts. ``None`` means "not documented": not checked.

    Attributes:
        family: the model name without a date suffix, e.g. ``gpt-realtime-2``.
        images: takes ``input_image`` content in user messages.
        reasoning: takes ``reasoning`` (and ``reasoning_effort``).
        reasoning_efforts: the efforts it takes, when ``reasoning`` is not False.
        parallel_tool_calls: takes the ``parallel_tool_calls`` session field.
        several_messages: a response may hold several messages (a preamble, then the answer).
        voices: the built-in voice names it speaks with.
        audio_formats: the input and output audio formats it takes.
        transcription_models: the input transcription models it takes (OpenAI names).
        context_tokens: the context window, in tokens (input and output).
        max_output_tokens: the largest ``max_output_tokens`` it takes.
    """

    family: str
    images: bool | None = None
    reasoning: bool | None = None
    reasoning_efforts: tuple[str, ...] = REASONING_EFFORTS
    parallel_tool_calls: bool | None = None
    several_messages: bool | None = None
    voices: tuple[str, ...] | None = BUILTIN_VOICES
    audio_formats: tuple[str, ...] = AUDIO_FORMATS
    transcription_models: tuple[str, ...] | None = TRANSCRIPTION_MODELS
    context_tokens: int | None = None
    max_output_tokens: int | None = None


def _first_generation(family: str, **facts: Any) -> ModelProfile:
    """``gpt-realtime`` and its siblings: no reasoning, one message per response."""
    base: dict[str, Any] = {
        "reasoning": False,
        "parallel_tool_calls": False,
        "several_messages": False,
        "context_tokens": 32_000,
        "max_output_tokens": 4_096,
    }
    return ModelProfile(family, **{**base, **facts})


def _reasoning(family: str, **facts: Any) -> ModelProfile:
    """``gpt-realtime-2`` and later: reasoning, preambles, parallel tool calls."""
    base: dict[str, Any] = {
        "reasoning": True,
        "parallel_tool_calls": True,
        "several_messages": True,
    }
    return ModelProfile(family, **{**base, **facts})


_PROFILE_LIST = (
    _first_generation("gpt-4o-realtime-preview", images=False, voices=_PREVIEW_VOICES,
                      context_tokens=128_000),
    _first_generation("gpt-4o-mini-realtime-preview", images=False, voices=_PREVIEW_VOICES,
                      context_tokens=None),
    _first_generation("gpt-realtime", images=True),
    _first_generation("gpt-realtime-mini", images=True),
    _first_generation("gpt-realtime-1.5", images=None),
    _reasoning("gpt-realtime-2", images=True, context_tokens=128_000),
    _reasoning("gpt-realtime-2.1", reasoning=None, parallel_tool_calls=None,
               several_messages=None),
    _reasoning("gpt-realtime-2.1-mini", reasoning=None, parallel_tool_calls=None,
               several_messages=None),
)  # fmt: skip

PROFILES: Mapping[str, ModelProfile] = {profile.family: profile for profile in _PROFILE_LIST}
"""Every known model family by name. Dated snapshots (``gpt-realtime-2025-08-28``) share their
family's profile."""

_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def profile_for(model: str | None) -> ModelProfile | None:
    """The profile of ``model`` (a family or a dated snapshot), or ``None`` when unknown.

    >>> profile_for("gpt-realtime-mini-2025-10-06").family
    'gpt-realtime-mini'
    """
    if not model:
        return None
    name = model.strip().lower()
    return PROFILES.get(name) or PROFILES.get(_DATE_SUFFIX.sub("", name))


class UnsupportedOptionError(ConfigurationError):
    """The model does not take an option; raised before anything is sent.

    Attributes:
        model: the model family the endpoint names.
        option: the option, in agentkit's name (``voice``, ``reasoning_effort``, ``images``...).
    """

    def __init__(self, model: str, option: str, detail: str) -> None:
        self.model = model
        self.option = option
        super().__init__(f"model {model!r} does not take {option}: {detail}")


def check_images(profile: ModelProfile | None) -> None:
    """Refuse an image for a model that takes none.

    Raises:
        UnsupportedOptionError: the profile says the model takes no images.
    """
    if profile is not None and profile.images is False:
        takes = ", ".join(name for name, p in PROFILES.items() if p.images)
        raise UnsupportedOptionError(
            profile.family, "images", f"it has no image input (models that do: {takes})"
        )


def check_session_config(
    config: SessionConfig | ResponseOptions, profile: ModelProfile | None
) -> None:
    """Check a session configuration, or one response's overrides, against a model profile;
    ``None`` checks nothing.

    Reads optional fields with ``getattr`` (``reasoning``, ``reasoning_effort``,
    ``parallel_tool_calls``), and the same settings given raw in ``extra``.

    Raises:
        UnsupportedOptionError: naming the model and the first option it does not take.
    """
    if profile is None:
        return
    for check in (_check_voice, _check_formats, _check_transcription, _check_output_tokens):
        check(config, profile)
    _check_reasoning(config, profile)
    _check_parallel_calls(config, profile)


_Config = SessionConfig | ResponseOptions


def _check_voice(config: _Config, profile: ModelProfile) -> None:
    voice = config.voice
    if voice is not None and profile.voices is not None and voice not in profile.voices:
        raise UnsupportedOptionError(
            profile.family, f"voice={voice!r}", f"its voices are {', '.join(profile.voices)}"
        )


def _check_formats(config: _Config, profile: ModelProfile) -> None:
    for name in ("input_audio_format", "output_audio_format"):
        value = getattr(config, name, None)
        if value is not None and value not in profile.audio_formats:
            formats = ", ".join(profile.audio_formats)
            raise UnsupportedOptionError(
                profile.family, f"{name}={value!r}", f"its formats are {formats}"
            )


def _check_transcription(config: _Config, profile: ModelProfile) -> None:
    transcription = getattr(config, "input_audio_transcription", None)
    known = profile.transcription_models
    if transcription is None or known is None or transcription.model in known:
        return
    raise UnsupportedOptionError(
        profile.family,
        f"input transcription model {transcription.model!r}",
        f"the transcription models are {', '.join(known)}",
    )


def _check_output_tokens(config: _Config, profile: ModelProfile) -> None:
    limit, value = profile.max_output_tokens, config.max_output_tokens
    if limit is not None and isinstance(value, int) and value > limit:
        raise UnsupportedOptionError(
            profile.family, f"max_output_tokens={value}", f"its maximum is {limit} (or 'inf')"
        )


def _extra(config: _Config) -> dict[str, Any]:
    extra = getattr(config, "extra", None)
    return extra if isinstance(extra, dict) else {}


def _reasoning_effort(config: _Config) -> tuple[bool, object]:
    """Whether reasoning is asked for, and the effort given: from a ``reasoning`` field (an
    object with ``effort``), a ``reasoning_effort`` field, or raw ``extra["reasoning"]``."""
    effort = getattr(config, "reasoning_effort", None)
    given = [getattr(config, "reasoning", None), _extra(config).get("reasoning")]
    for reasoning in given:
        if effort is None and reasoning is not None:
            found = reasoning.get("effort") if isinstance(reasoning, Mapping) else None
            effort = found if found is not None else getattr(reasoning, "effort", None)
    asked = effort is not None or any(reasoning is not None for reasoning in given)
    return asked, effort


def _check_reasoning(config: _Config, profile: ModelProfile) -> None:
    asked, effort = _reasoning_effort(config)
    if not asked or profile.reasoning is None:
        return
    if profile.reasoning is False:
        models = ", ".join(name for name, p in PROFILES.items() if p.reasoning is not False)
        raise UnsupportedOptionError(
            profile.family,
            f"reasoning_effort={effort!r}" if effort is not None else "reasoning",
            f"it is not a reasoning model (reasoning models: {models})",
        )
    if effort is not None and effort not in profile.reasoning_efforts:
        efforts = ", ".join(profile.reasoning_efforts)
        raise UnsupportedOptionError(
            profile.family, f"reasoning_effort={effort!r}", f"its efforts are {efforts}"
        )


def _check_parallel_calls(config: _Config, profile: ModelProfile) -> None:
    value = getattr(config, "parallel_tool_calls", None)
    if value is None:
        value = _extra(config).get("parallel_tool_calls")
    if value is not None and profile.parallel_tool_calls is False:
        raise UnsupportedOptionError(
            profile.family,
            f"parallel_tool_calls={value!r}",
            "only reasoning models take it (gpt-realtime-2 and later)",
        )
