"""Session configuration as the service keeps it: defaults, ``session.update`` checks, merging.

Pure functions over plain dicts. A rejected update is described by a :class:`ConfigError`
(``code``/``param``/``message``) that the connection turns into an ``error`` event carrying the
client's ``event_id``; the whole update is then ignored, as the service does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentkit.testing.dialect import GA, Dialect

__all__ = [
    "ConfigError",
    "ModelTraits",
    "default_session",
    "instructions",
    "merge_update",
    "model_traits",
    "output_modality",
    "session_tools",
    "turn_detection",
    "validate_update",
]

DEFAULT_INSTRUCTIONS = "You are the agentkit realtime simulator. Answers are scripted."

_SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": True,
    "interrupt_response": True,
}
_READ_ONLY = {"id", "object", "expires_at", "client_secret"}
_GA_FIELDS = {
    "type", "model", "output_modalities", "instructions", "audio", "tools", "tool_choice",
    "max_output_tokens", "truncation", "tracing", "prompt", "include", "parallel_tool_calls",
    "reasoning",
}  # fmt: skip
_PREVIEW_FIELDS = {
    "model", "modalities", "instructions", "voice", "input_audio_format", "output_audio_format",
    "input_audio_transcription", "input_audio_noise_reduction", "turn_detection", "tools",
    "tool_choice", "temperature", "max_response_output_tokens", "speed", "tracing",
}  # fmt: skip
_GA_AUDIO_FIELDS = {
    "input": {"format", "transcription", "noise_reduction", "turn_detection"},
    "output": {"format", "voice", "speed"},
}
_TOOL_CHOICES = {"auto", "none", "required"}
# Objects of several shapes: a new one replaces the old rather than merging into it.
_REPLACED_WHOLE = {"tool_choice", "prompt", "tracing", "truncation", "reasoning"}


@dataclass(frozen=True)
class ModelTraits:
    """What the simulated model takes, from the model named in the URL. A model the simulator
    does not know takes everything."""

    images: bool = True
    reasoning: bool = True


# The simulator's own table, kept apart from the client's agentkit.models on purpose: a test
# where both agree proves the client's check and the service's refusal independently.
_WITHOUT_IMAGES = frozenset({"gpt-4o-realtime-preview", "gpt-4o-mini-realtime-preview"})
_WITHOUT_REASONING = _WITHOUT_IMAGES | {"gpt-realtime", "gpt-realtime-mini", "gpt-realtime-1.5"}
_REASONING_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")


def model_traits(model: str) -> ModelTraits:
    """The traits of ``model``; a dated snapshot has its family's."""
    family = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model.strip().lower())
    return ModelTraits(
        images=family not in _WITHOUT_IMAGES, reasoning=family not in _WITHOUT_REASONING
    )


@dataclass(frozen=True)
class ConfigError:
    """Why an update was refused, in the service's vocabulary."""

    code: str
    param: str
    message: str


def default_session(
    dialect: Dialect, model: str, session_id: str, expires_at: int
) -> dict[str, Any]:
    """The full configuration announced in ``session.created``."""
    common = {"id": session_id, "object": "realtime.session", "model": model}
    common["expires_at"] = expires_at  # type: ignore[assignment]
    if dialect == GA:
        return {**common, **_ga_defaults()}
    return {**common, **_preview_defaults()}


def _ga_defaults() -> dict[str, Any]:
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "audio": {
            "input": {
                "format": dict(pcm),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {**_SERVER_VAD_DEFAULTS, "idle_timeout_ms": None},
            },
            "output": {"format": dict(pcm), "voice": "alloy", "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
    }


def _preview_defaults() -> dict[str, Any]:
    return {
        "modalities": ["text", "audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
        "turn_detection": dict(_SERVER_VAD_DEFAULTS),
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
        "speed": 1.0,
        "tracing": None,
    }


def validate_update(
    update: object,
    current: Mapping[str, Any],
    dialect: Dialect,
    traits: ModelTraits | None = None,
) -> ConfigError | None:
    """Check a ``session.update.session`` object; ``None`` means it may be merged.

    ``traits``: what the model takes (default: everything)."""
    if not isinstance(update, Mapping):
        return ConfigError(
            "invalid_type", "session", "Invalid type for 'session': expected an object."
        )
    if dialect == GA:
        error = _check_ga_shape(update)
    else:
        error = _check_fields(update, _PREVIEW_FIELDS, "session")
    return error or _check_values(update, current, dialect, traits or ModelTraits())


def _check_ga_shape(update: Mapping[str, Any]) -> ConfigError | None:
    # GA rule: session.type is required on every session.update.
    if "type" not in update:
        return ConfigError(
            "missing_required_parameter",
            "session.type",
            "Missing required parameter: 'session.type'.",
        )
    if update["type"] != "realtime":
        return _invalid_value("session.type", update["type"], "'realtime'")
    error = _check_fields(update, _GA_FIELDS, "session")
    audio = update.get("audio")
    if error is None and isinstance(audio, Mapping):
        error = _check_fields(audio, set(_GA_AUDIO_FIELDS), "session.audio")
        for part, fields in _GA_AUDIO_FIELDS.items():
            section = audio.get(part)
            if error is None and isinstance(section, Mapping):
                error = _check_fields(section, fields, f"session.audio.{part}")
    return error


def _check_fields(update: Mapping[str, Any], allowed: set[str], where: str) -> ConfigError | None:
    for name in update:
        if name not in allowed and name not in _READ_ONLY:
            return ConfigError(
                "unknown_parameter", f"{where}.{name}", f"Unknown parameter: '{where}.{name}'."
            )
    return None


def _check_values(
    update: Mapping[str, Any], current: Mapping[str, Any], dialect: Dialect, traits: ModelTraits
) -> ConfigError | None:
    checks = (
        _check_model(update, current),
        _check_modalities(update, dialect),
        _check_turn_detection(turn_detection(update, dialect), dialect),
        _check_tools(update.get("tools")),
        _check_tool_choice(update.get("tool_choice")),
        _check_temperature(update.get("temperature")),
        _check_reasoning(update, traits),
    )
    return next((error for error in checks if error is not None), None)


def _check_model(update: Mapping[str, Any], current: Mapping[str, Any]) -> ConfigError | None:
    if "model" in update and update["model"] != current.get("model"):
        return ConfigError("invalid_value", "session.model", "The session model cannot be changed.")
    return None


def _check_modalities(update: Mapping[str, Any], dialect: Dialect) -> ConfigError | None:
    if dialect == GA and "output_modalities" in update:
        value = update["output_modalities"]
        if value not in (["audio"], ["text"]):
            return _invalid_value("session.output_modalities", value, "['audio'] or ['text']")
    if dialect != GA and "modalities" in update:
        value = update["modalities"]
        if (
            not isinstance(value, list)
            or "text" not in value
            or not all(isinstance(v, str) and v in ("text", "audio") for v in value)
        ):
            return _invalid_value("session.modalities", value, "['text'] or ['text', 'audio']")
    return None


def _check_turn_detection(value: object, dialect: Dialect) -> ConfigError | None:
    param = "session.audio.input.turn_detection" if dialect == GA else "session.turn_detection"
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") not in ("server_vad", "semantic_vad"):
        return _invalid_value(f"{param}.type", value, "'server_vad' or 'semantic_vad'")
    return None


def _check_tools(tools: object) -> ConfigError | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return ConfigError("invalid_type", "session.tools", "Invalid type for 'session.tools'.")
    for index, tool in enumerate(tools):
        param = f"session.tools[{index}]"
        if not isinstance(tool, Mapping) or tool.get("type") not in ("function", "mcp"):
            return _invalid_value(f"{param}.type", tool, "'function' or 'mcp'")
        required = "name" if tool["type"] == "function" else "server_label"
        error = _require_string(tool, required, param)
        if error is not None:
            return error
    return None


def _check_tool_choice(choice: object) -> ConfigError | None:
    """``"auto"``/``"none"``/``"required"``, or an object naming a function or an MCP server."""
    param = "session.tool_choice"
    if choice is None or (isinstance(choice, str) and choice in _TOOL_CHOICES):
        return None
    if not isinstance(choice, Mapping):
        return _invalid_value(param, choice, "'auto', 'none', 'required' or an object")
    kind = choice.get("type")
    if kind == "function":
        return _require_string(choice, "name", param)
    if kind == "mcp":
        if "name" in choice and not isinstance(choice["name"], (str, type(None))):
            return ConfigError("invalid_type", f"{param}.name", f"Invalid type for '{param}.name'.")
        return _require_string(choice, "server_label", param)
    return _invalid_value(f"{param}.type", kind, "'function' or 'mcp'")


def _require_string(value: Mapping[str, Any], name: str, where: str) -> ConfigError | None:
    if isinstance(value.get(name), str):
        return None
    return ConfigError(
        "missing_required_parameter",
        f"{where}.{name}",
        f"Missing required parameter: '{where}.{name}'.",
    )


def _check_temperature(value: object) -> ConfigError | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or not 0.6 <= value <= 1.2:
        return _invalid_value("session.temperature", value, "a number between 0.6 and 1.2")
    return None


def _check_reasoning(update: Mapping[str, Any], traits: ModelTraits) -> ConfigError | None:
    """Reasoning and parallel tool calls are for reasoning models (gpt-realtime-2 and later)."""
    if not traits.reasoning:
        for name in ("reasoning", "parallel_tool_calls"):
            if name in update:
                message = (
                    f"Unsupported parameter: 'session.{name}' is not supported with this model."
                )
                return ConfigError("unsupported_parameter", f"session.{name}", message)
    reasoning = update.get("reasoning")
    if isinstance(reasoning, Mapping) and reasoning.get("effort") is not None:
        effort = reasoning["effort"]
        if effort not in _REASONING_EFFORTS:
            expected = ", ".join(repr(e) for e in _REASONING_EFFORTS)
            return _invalid_value("session.reasoning.effort", effort, f"one of {expected}")
    return None


def _invalid_value(param: str, value: object, expected: str) -> ConfigError:
    return ConfigError(
        "invalid_value", param, f"Invalid value for '{param}': {value!r}. Expected {expected}."
    )


def merge_update(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The effective session after a valid update: only the fields present change.

    Objects merge key by key, lists and ``null`` replace; a new ``turn_detection`` object is
    completed with the service's VAD defaults, as ``session.updated`` shows them.
    """
    merged = copy.deepcopy(dict(current))
    for name, value in update.items():
        if name in _READ_ONLY:
            continue
        if name == "turn_detection":
            merged[name] = _complete_turn_detection(value)
        elif name in _REPLACED_WHOLE:
            merged[name] = copy.deepcopy(value)
        elif isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = merge_update(merged[name], value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


def _complete_turn_detection(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get("type") == "server_vad":
        return {**_SERVER_VAD_DEFAULTS, **value}
    return copy.deepcopy(value)


def _ga_audio_input(session: Mapping[str, Any], key: str) -> Any:
    """``session.audio.input[key]`` in the GA shape, or ``None`` where any level is missing."""
    audio = session.get("audio")
    section = audio.get("input") if isinstance(audio, Mapping) else None
    return section.get(key) if isinstance(section, Mapping) else None


def turn_detection(session: Mapping[str, Any], dialect: Dialect) -> Any:
    """The ``turn_detection`` object (GA: under ``audio.input``), or ``None`` when absent/off."""
    if dialect == GA:
        return _ga_audio_input(session, "turn_detection")
    return session.get("turn_detection")


def input_transcription(session: Mapping[str, Any], dialect: Dialect) -> Any:
    """The input transcription config (GA: ``audio.input.transcription``), or ``None`` when off."""
    if dialect == GA:
        return _ga_audio_input(session, "transcription")
    return session.get("input_audio_transcription")


def output_modality(config: Mapping[str, Any], dialect: Dialect) -> str:
    """``"audio"`` or ``"text"``: what a response speaks with, from a session or response config."""
    if dialect == GA:
        modalities = config.get("output_modalities") or ["audio"]
        return "text" if modalities == ["text"] else "audio"
    return "audio" if "audio" in (config.get("modalities") or ["text", "audio"]) else "text"


def session_tools(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The function tools declared in a session or response config."""
    tools = config.get("tools") or []
    return [
        dict(tool) for tool in tools if isinstance(tool, Mapping) and tool.get("type") == "function"
    ]


def instructions(config: Mapping[str, Any]) -> str:
    """The system prompt in a session or response config."""
    value = config.get("instructions")
    return value if isinstance(value, str) else ""
