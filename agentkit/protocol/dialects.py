"""The two wire dialects of the Realtime API and the pure mappings between them.

Everything here is a pure function: event-name aliases applied on decode, and the session /
response / item shapes applied on encode. The rest of agentkit speaks GA names only.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ValidationError

from agentkit._redact import Secret
from agentkit.protocol.config import _SERVER_ONLY as _SERVER_VAD_ONLY
from agentkit.protocol.config import (
    InputTranscription,
    NoiseReduction,
    Reasoning,
    ResponseOptions,
    SessionConfig,
    TurnDetection,
)

__all__ = [
    "GA_ONLY",
    "PREVIEW_EVENT_ALIASES",
    "Dialect",
    "ga_only_settings",
    "item_to_wire",
    "response_options_to_wire",
    "session_from_wire",
    "session_to_wire",
]


class Dialect(str, enum.Enum):
    """Which protocol vocabulary a socket speaks; chosen by the endpoint.

    ``GA`` is the generally available protocol (``/openai/v1/realtime``, OpenAI ``/v1/realtime``);
    ``PREVIEW`` is the beta protocol (Azure ``/openai/realtime?api-version=``, or OpenAI with
    the ``OpenAI-Beta: realtime=v1`` header).
    """

    GA = "ga"
    PREVIEW = "preview"


PREVIEW_EVENT_ALIASES: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "conversation.item.created": "conversation.item.added",
}
"""Preview server event names and their GA equivalents. Applied whatever the dialect, since GA
servers still send ``conversation.item.created`` in places."""

_GA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_FROM_GA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
# Sent as null when set to None: null switches the feature off.
_NULLABLE = ("turn_detection", "input_audio_transcription", "input_audio_noise_reduction")
GA_ONLY = frozenset(("reasoning", "parallel_tool_calls", "truncation"))
"""Settings only the GA protocol has (the preview models do not reason)."""
_GA_AUDIO_INPUT_KEYS = {
    "turn_detection": "turn_detection",
    "input_audio_transcription": "transcription",
    "input_audio_noise_reduction": "noise_reduction",
}
_ASSISTANT_PART_TO_PREVIEW = {"output_text": "text", "output_audio": "audio"}


def _preview_tool_choice(choice: Any) -> Any:
    # The preview protocol types tool_choice as a string (SDK beta); a forced function
    # ({"type": "function", "name": ...}) becomes "required", the nearest string mode.
    return "required" if isinstance(choice, dict) else choice


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    return list(value) if isinstance(value, tuple) else value


def _wire_tools(tools: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The tools as sent: a hosted MCP tool's headers and token are held as secrets until
    here (see agentkit.hosted_mcp), so no repr or log of the configuration shows them."""
    return [_revealed(tool) if tool.get("type") == "mcp" else tool for tool in tools]


def _revealed(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {key: _revealed(inner) for key, inner in value.items()}
    return value


def _ga_modalities(modalities: tuple[str, ...]) -> list[str]:
    # GA allows exactly one output modality; audio always carries a transcript.
    return ["audio"] if "audio" in modalities else ["text"]


def _preview_modalities(modalities: tuple[str, ...]) -> list[str]:
    return ["text", "audio"] if "audio" in modalities else ["text"]


def session_to_wire(config: SessionConfig, dialect: Dialect) -> dict[str, Any]:
    """The ``session`` object of ``session.update`` for ``dialect``; only set fields appear.

    ``extra`` is merged in last, object into object, so ``extra={"audio": {...}}`` adds GA
    audio settings without erasing the modelled ones.
    """
    if dialect is Dialect.GA:
        wire = _session_to_ga(config)
    else:
        wire = _session_to_preview(config)
    _merge(wire, config.extra)
    return wire


def ga_only_settings(config: SessionConfig | ResponseOptions, dialect: Dialect) -> list[str]:
    """The settings in ``config`` that ``dialect`` cannot carry (none on GA)."""
    if dialect is Dialect.GA:
        return []
    given = config.model_fields_set
    return [name for name in sorted(GA_ONLY) if name in given and getattr(config, name) is not None]


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = dict(target[key])
            _merge(target[key], value)
        else:
            target[key] = value


def _session_to_ga(config: SessionConfig) -> dict[str, Any]:
    # session.type is required on every GA session.update (docs/protocol.md, "session.update").
    wire: dict[str, Any] = {"type": "realtime"}
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    for name in config.set_fields():
        value = getattr(config, name)
        if name in _NULLABLE:
            audio_in[_GA_AUDIO_INPUT_KEYS[name]] = _dump(value)
        elif value is None or name == "temperature":
            continue  # null would not mean "off" here; GA has no temperature
        elif name == "output_modalities":
            wire["output_modalities"] = _ga_modalities(value)
        elif name == "input_audio_format":
            audio_in["format"] = dict(_GA_FORMATS[value])
        elif name == "output_audio_format":
            audio_out["format"] = dict(_GA_FORMATS[value])
        elif name in ("voice", "speed"):
            audio_out[name] = value
        elif name == "tools":
            wire[name] = _wire_tools(value)
        else:
            wire[name] = _dump(value)
    if audio_in:
        wire.setdefault("audio", {})["input"] = audio_in
    if audio_out:
        wire.setdefault("audio", {})["output"] = audio_out
    return wire


def _session_to_preview(config: SessionConfig) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for name in config.set_fields():
        value = getattr(config, name)
        if name in GA_ONLY:
            continue  # refused before the socket opens: see Session
        if name == "output_modalities" and value is not None:
            wire["modalities"] = _preview_modalities(value)
        elif name == "max_output_tokens":
            wire["max_response_output_tokens"] = value
        elif name == "turn_detection" and value is not None:
            wire[name] = value.model_dump(exclude_none=True, exclude={"idle_timeout_ms"})
        elif name == "tool_choice" and value is not None:
            wire[name] = _preview_tool_choice(value)
        elif name == "tools" and value is not None:
            wire[name] = _wire_tools(value)
        elif value is not None or name in _NULLABLE:
            wire[name] = _dump(value)
    return wire


def session_from_wire(session: dict[str, Any], dialect: Dialect) -> SessionConfig:
    """The dialect-neutral view of a ``session.created`` / ``session.updated`` session object.

    Fields agentkit does not model are kept in ``extra``. The server is the authority here, so
    nothing fails: keys of a nested setting that agentkit does not model are ignored, and a value
    it cannot read is left out of the typed view, its raw wire field kept in ``extra``.
    """
    ga = dialect is Dialect.GA
    fields = _ga_session_fields(session) if ga else _preview_fields(session)
    for name, model in _NESTED.items():
        if isinstance(fields.get(name), dict):
            fields[name] = _known_keys(model, fields[name])
    while True:
        try:
            return SessionConfig.model_validate(fields)
        except ValidationError as exc:
            unreadable = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if not unreadable <= fields.keys() - {"extra"}:
                return SessionConfig(extra=dict(session))
            extra = dict(fields.pop("extra", {}))
            for name in unreadable:
                del fields[name]
                wire_key = _wire_key(name, ga)
                if wire_key in session:
                    extra[wire_key] = session[wire_key]
            fields["extra"] = extra


_NESTED: dict[str, type[BaseModel]] = {
    "turn_detection": TurnDetection,
    "input_audio_transcription": InputTranscription,
    "input_audio_noise_reduction": NoiseReduction,
    "reasoning": Reasoning,
}


def _known_keys(model: type[BaseModel], value: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in value.items() if k in model.model_fields}
    if model is TurnDetection:
        # The server may echo settings of the other VAD mode; they mean nothing for this one.
        other = _SERVER_VAD_ONLY if kept.get("type") == "semantic_vad" else ("eagerness",)
        kept = {k: v for k, v in kept.items() if k not in other}
    return kept


def _wire_key(name: str, ga: bool) -> str:
    if ga:
        audio = _GA_AUDIO_INPUT_KEYS.keys() | {"voice", "speed", "input_audio_format"}
        return "audio" if name in audio | {"output_audio_format"} else name
    return {
        "output_modalities": "modalities",
        "max_output_tokens": "max_response_output_tokens",
    }.get(name, name)


_MODELLED = set(SessionConfig.model_fields) - {"extra"}


def _split_extra(source: dict[str, Any], fields: dict[str, Any], used: set[str]) -> None:
    extra = {k: v for k, v in source.items() if k not in used}
    if extra:
        fields["extra"] = extra


def _ga_session_fields(session: dict[str, Any]) -> dict[str, Any]:
    audio = session.get("audio") or {}
    audio_in = audio.get("input") or {}
    audio_out = audio.get("output") or {}
    top_level = ("instructions", "tools", "tool_choice", "max_output_tokens", *GA_ONLY)
    fields: dict[str, Any] = {k: session[k] for k in top_level if k in session}
    if "output_modalities" in session:
        fields["output_modalities"] = tuple(session["output_modalities"] or ())
    if isinstance(audio_in.get("format"), dict):
        fields["input_audio_format"] = _FORMAT_FROM_GA.get(audio_in["format"].get("type"))
    if isinstance(audio_out.get("format"), dict):
        fields["output_audio_format"] = _FORMAT_FROM_GA.get(audio_out["format"].get("type"))
    for key, name in (
        ("turn_detection", "turn_detection"),
        ("transcription", "input_audio_transcription"),
        ("noise_reduction", "input_audio_noise_reduction"),
    ):
        if key in audio_in:
            fields[name] = audio_in[key]
    for key in ("voice", "speed"):
        if key in audio_out:
            fields[key] = audio_out[key]
    used = {*top_level, "output_modalities"}
    if session.get("type") == "realtime":
        used.add("type")  # the GA discriminator, which session_to_wire always sends
    _split_extra(session, fields, used | {"audio"})
    return fields


def _preview_fields(session: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in session.items() if k in _MODELLED}
    if "modalities" in session:
        fields["output_modalities"] = _ga_modalities(tuple(session["modalities"] or ()))
    if "max_response_output_tokens" in session:
        fields["max_output_tokens"] = session["max_response_output_tokens"]
    _split_extra(session, fields, _MODELLED | {"modalities", "max_response_output_tokens"})
    return fields


def response_options_to_wire(options: ResponseOptions, dialect: Dialect) -> dict[str, Any]:
    """The ``response`` object of ``response.create`` for ``dialect``."""
    wire: dict[str, Any] = {}
    given = options.model_fields_set
    for name in (name for name in ResponseOptions.model_fields if name in given):
        value = getattr(options, name)
        if value is None or (name in GA_ONLY and dialect is Dialect.PREVIEW):
            continue
        if name == "output_modalities":
            key = "output_modalities" if dialect is Dialect.GA else "modalities"
            wire[key] = (_ga_modalities if dialect is Dialect.GA else _preview_modalities)(value)
        elif name == "input":
            wire["input"] = [item_to_wire(item, dialect) for item in value]
        elif name in ("voice", "output_audio_format") and dialect is Dialect.GA:
            out = wire.setdefault("audio", {}).setdefault("output", {})
            out["voice" if name == "voice" else "format"] = (
                value if name == "voice" else dict(_GA_FORMATS[value])
            )
        elif name == "max_output_tokens" and dialect is Dialect.PREVIEW:
            wire["max_response_output_tokens"] = value
        elif name == "tool_choice" and dialect is Dialect.PREVIEW:
            wire[name] = _preview_tool_choice(value)
        elif name == "temperature" and dialect is Dialect.GA:
            continue
        elif name == "tools":
            wire[name] = _wire_tools(value)
        else:
            wire[name] = _dump(value)
    return wire


def item_to_wire(item: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A conversation item in the dialect's shape (preview names assistant parts ``text``)."""
    if dialect is Dialect.GA or item.get("role") != "assistant":
        return item
    content = [
        {**part, "type": _ASSISTANT_PART_TO_PREVIEW.get(part.get("type", ""), part.get("type"))}
        for part in item.get("content", ())
    ]
    return {**item, "content": content}
