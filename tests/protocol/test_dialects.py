"""Dialect mapping: one neutral session/response shape, two wire shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit.protocol.codec import decode
from agentkit.protocol.config import (
    InputTranscription,
    NoiseReduction,
    ResponseOptions,
    SessionConfig,
    TurnDetection,
)
from agentkit.protocol.dialects import (
    PREVIEW_EVENT_ALIASES,
    Dialect,
    item_to_wire,
    response_options_to_wire,
    session_from_wire,
    session_to_wire,
)
from tests.protocol.catalogue import SESSION_CONFIGS, WEATHER_TOOL

GA, PREVIEW = Dialect.GA, Dialect.PREVIEW


def _without_temperature(config: SessionConfig) -> SessionConfig:
    given = {name: getattr(config, name) for name in config.set_fields() if name != "temperature"}
    return SessionConfig(**given)


def _normalised_modalities(config: SessionConfig) -> SessionConfig:
    if config.output_modalities is None:
        return config
    audio = "audio" in config.output_modalities
    return config.model_copy(update={"output_modalities": ("audio",) if audio else ("text",)})


ROUND_TRIP = {k: v for k, v in SESSION_CONFIGS.items() if not v.extra}


@pytest.mark.parametrize("config", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_ga_session_round_trips_except_temperature(config: SessionConfig) -> None:
    back = session_from_wire(session_to_wire(config, GA), GA)

    expected = _normalised_modalities(_without_temperature(config))
    assert back == expected
    assert back.set_fields() == expected.set_fields()
    assert back.extra == {}


def _without_idle_timeout(config: SessionConfig) -> SessionConfig:
    if config.turn_detection is None:
        return config
    vad = config.turn_detection.model_copy(update={"idle_timeout_ms": None})
    return config.model_copy(update={"turn_detection": vad})


@pytest.mark.parametrize("config", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_preview_session_round_trips_except_ga_only_settings(config: SessionConfig) -> None:
    back = session_from_wire(session_to_wire(config, PREVIEW), PREVIEW)

    expected = _normalised_modalities(_without_idle_timeout(config))
    if isinstance(config.tool_choice, dict):
        expected = expected.model_copy(update={"tool_choice": "required"})
    assert back == expected
    assert back.extra == {}


def test_only_the_fields_set_appear_on_the_wire() -> None:
    config = SessionConfig(instructions="Be brief.")

    assert session_to_wire(config, GA) == {"type": "realtime", "instructions": "Be brief."}
    assert session_to_wire(config, PREVIEW) == {"instructions": "Be brief."}
    assert session_to_wire(SessionConfig(), GA) == {"type": "realtime"}
    assert session_to_wire(SessionConfig(), PREVIEW) == {}


def test_turning_features_off_sends_null_in_both_dialects() -> None:
    config = SessionConfig(
        turn_detection=None, input_audio_transcription=None, input_audio_noise_reduction=None
    )

    assert session_to_wire(config, GA) == {
        "type": "realtime",
        "audio": {
            "input": {"turn_detection": None, "transcription": None, "noise_reduction": None}
        },
    }
    assert session_to_wire(config, PREVIEW) == {
        "turn_detection": None,
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
    }


def test_none_for_a_plain_setting_is_left_out_rather_than_sent_as_null() -> None:
    config = SessionConfig(voice=None, speed=None, instructions=None, input_audio_format=None)

    assert session_to_wire(config, GA) == {"type": "realtime"}
    assert session_to_wire(config, PREVIEW) == {}


def test_temperature_is_dropped_on_ga_and_kept_on_preview() -> None:
    config = SessionConfig(temperature=0.9)

    assert session_to_wire(config, GA) == {"type": "realtime"}
    assert session_to_wire(config, PREVIEW) == {"temperature": 0.9}


@pytest.mark.parametrize(
    ("modalities", "ga", "preview"),
    [
        (("audio",), ["audio"], ["text", "audio"]),
        (("text", "audio"), ["audio"], ["text", "audio"]),
        (("text",), ["text"], ["text"]),
    ],
)
def test_modalities(modalities: Any, ga: list[str], preview: list[str]) -> None:
    config = SessionConfig(output_modalities=modalities)

    assert session_to_wire(config, GA) == {"type": "realtime", "output_modalities": ga}
    assert session_to_wire(config, PREVIEW) == {"modalities": preview}
    options = ResponseOptions(output_modalities=modalities)
    assert response_options_to_wire(options, GA) == {"output_modalities": ga}
    assert response_options_to_wire(options, PREVIEW) == {"modalities": preview}


def test_ga_nests_audio_settings_and_preview_keeps_them_flat() -> None:
    config = SessionConfig(
        voice="marin",
        speed=1.2,
        input_audio_format="g711_alaw",
        output_audio_format="pcm16",
        turn_detection=TurnDetection(type="semantic_vad", eagerness="low"),
        input_audio_transcription=InputTranscription(model="my-whisper-deployment", language="nb"),
        input_audio_noise_reduction=NoiseReduction(type="far_field"),
        max_output_tokens=300,
    )

    assert session_to_wire(config, GA) == {
        "type": "realtime",
        "max_output_tokens": 300,
        "audio": {
            "input": {
                "format": {"type": "audio/pcma"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
                "transcription": {"model": "my-whisper-deployment", "language": "nb"},
                "noise_reduction": {"type": "far_field"},
            },
            "output": {
                "voice": "marin",
                "speed": 1.2,
                "format": {"type": "audio/pcm", "rate": 24000},
            },
        },
    }
    assert session_to_wire(config, PREVIEW) == {
        "voice": "marin",
        "speed": 1.2,
        "input_audio_format": "g711_alaw",
        "output_audio_format": "pcm16",
        "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
        "input_audio_transcription": {"model": "my-whisper-deployment", "language": "nb"},
        "input_audio_noise_reduction": {"type": "far_field"},
        "max_response_output_tokens": 300,
    }


def test_preview_has_no_idle_timeout() -> None:
    config = SessionConfig(turn_detection=TurnDetection(idle_timeout_ms=5000))

    assert session_to_wire(config, GA)["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "idle_timeout_ms": 5000,
    }
    assert session_to_wire(config, PREVIEW)["turn_detection"] == {"type": "server_vad"}


def test_preview_forces_a_function_with_the_nearest_string_mode() -> None:
    forced = {"type": "function", "name": "get_weather"}

    assert session_to_wire(SessionConfig(tool_choice=forced), PREVIEW) == {
        "tool_choice": "required"
    }
    assert session_to_wire(SessionConfig(tool_choice=forced), GA)["tool_choice"] == forced
    options = ResponseOptions(tool_choice=forced)
    assert response_options_to_wire(options, PREVIEW) == {"tool_choice": "required"}
    assert response_options_to_wire(options, GA) == {"tool_choice": forced}


def test_extra_is_merged_into_nested_objects_without_erasing_them() -> None:
    config = SessionConfig(
        voice="marin",
        extra={"audio": {"output": {"voice": {"id": "voice_123"}}}, "truncation": "disabled"},
    )

    assert session_to_wire(config, GA) == {
        "type": "realtime",
        "audio": {"output": {"voice": {"id": "voice_123"}}},
        "truncation": "disabled",
    }
    config = SessionConfig(
        input_audio_format="pcm16",
        extra={"audio": {"input": {"noise_reduction": {"type": "near_field", "strength": 0.5}}}},
    )
    assert session_to_wire(config, GA)["audio"] == {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": {"type": "near_field", "strength": 0.5},
        }
    }
    assert config.extra["audio"]["input"] == {
        "noise_reduction": {"type": "near_field", "strength": 0.5}
    }  # not mutated by the merge


def test_response_options_every_field_in_both_dialects() -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hi"}],
    }
    options = ResponseOptions(
        instructions="Short.",
        tools=(WEATHER_TOOL,),
        tool_choice="auto",
        output_modalities=("audio",),
        voice="sage",
        output_audio_format="g711_ulaw",
        max_output_tokens="inf",
        metadata={"k": "v"},
        conversation="none",
        input=(item,),
        temperature=0.6,
    )

    common = {
        "instructions": "Short.",
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "metadata": {"k": "v"},
        "conversation": "none",
    }
    assert response_options_to_wire(options, GA) == {
        **common,
        "output_modalities": ["audio"],
        "audio": {"output": {"voice": "sage", "format": {"type": "audio/pcmu"}}},
        "max_output_tokens": "inf",
        "input": [item],
    }
    assert response_options_to_wire(options, PREVIEW) == {
        **common,
        "modalities": ["text", "audio"],
        "voice": "sage",
        "output_audio_format": "g711_ulaw",
        "max_response_output_tokens": "inf",
        "input": [{**item, "content": [{"type": "text", "text": "Hi"}]}],
        "temperature": 0.6,
    }
    assert response_options_to_wire(ResponseOptions(), GA) == {}
    assert response_options_to_wire(ResponseOptions(input=()), PREVIEW) == {"input": []}


def test_preview_names_assistant_parts_text_and_audio_without_touching_the_input() -> None:
    item: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "a"},
            {"type": "output_audio", "transcript": "b"},
        ],
    }
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]}

    preview = item_to_wire(item, PREVIEW)

    assert [part["type"] for part in preview["content"]] == ["text", "audio"]
    assert item["content"][0]["type"] == "output_text"
    assert item_to_wire(item, GA) == item
    assert item_to_wire(user, PREVIEW) == user


@pytest.mark.parametrize(("preview", "ga"), PREVIEW_EVENT_ALIASES.items())
def test_every_preview_alias_decodes_to_the_ga_model(preview: str, ga: str) -> None:
    fields = {"item": {"type": "message"}} if "item" in ga else {"delta": "", "item_id": "i"}

    event = decode(json.dumps({"type": preview, **fields}))

    assert event.type == ga
    assert type(event).__name__ != "UnknownEvent"


# -- reading the server's session --------------------------------------------------------------

GA_SERVER_SESSION: dict[str, Any] = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_A",
    "model": "gpt-realtime",
    "expires_at": 1767229200,
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            },
            "transcription": None,
            "noise_reduction": None,
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.0},
    },
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
}


def test_reading_a_ga_server_session() -> None:
    config = session_from_wire(GA_SERVER_SESSION, GA)

    assert config.output_audio_format == "g711_ulaw"
    assert config.input_audio_format == "pcm16"
    assert config.voice == "marin"
    assert config.speed == 1.0
    assert config.turn_detection == TurnDetection(
        type="server_vad",
        threshold=0.5,
        prefix_padding_ms=300,
        silence_duration_ms=500,
        create_response=True,
        interrupt_response=True,
    )
    assert config.input_audio_transcription is None
    assert "input_audio_transcription" in config.set_fields()
    assert config.tools == (WEATHER_TOOL,)
    assert config.max_output_tokens == "inf"
    assert config.extra == {
        "object": "realtime.session",
        "id": "sess_A",
        "model": "gpt-realtime",
        "expires_at": 1767229200,
        "tracing": None,
    }
    assert config.truncation == "auto"


def test_reading_a_preview_server_session() -> None:
    session = {
        "id": "sess_P",
        "object": "realtime.session",
        "modalities": ["text", "audio"],
        "voice": "alloy",
        "output_audio_format": "g711_alaw",
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
        "temperature": 0.8,
        "max_response_output_tokens": 4096,
    }

    config = session_from_wire(session, PREVIEW)

    assert config.output_modalities == ("audio",)
    assert config.output_audio_format == "g711_alaw"
    assert config.turn_detection == TurnDetection(silence_duration_ms=200)
    assert config.temperature == 0.8
    assert config.max_output_tokens == 4096
    assert config.extra == {"id": "sess_P", "object": "realtime.session"}


def test_unknown_nested_settings_do_not_hide_the_rest_of_the_session() -> None:
    session = {
        "type": "realtime",
        "audio": {
            "input": {
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto", "threshold": 0.5},
                "noise_reduction": {"type": "near_field", "strength": 1.0},
                "transcription": {"model": "gpt-4o-transcribe", "keywords": ["Oslo"]},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"},
        },
    }

    config = session_from_wire(session, GA)

    assert config.turn_detection == TurnDetection(type="semantic_vad", eagerness="auto")
    assert config.input_audio_noise_reduction == NoiseReduction(type="near_field")
    assert config.input_audio_transcription == InputTranscription(model="gpt-4o-transcribe")
    assert config.output_audio_format == "g711_ulaw"
    assert config.voice == "cedar"


def test_an_unreadable_value_is_kept_raw_in_extra_and_the_rest_is_read() -> None:
    ga = session_from_wire(
        {"type": "realtime", "instructions": "x", "audio": {"output": {"voice": {"id": "v_1"}}}},
        GA,
    )
    preview = session_from_wire({"voice": 7, "instructions": "x", "modalities": ["text"]}, PREVIEW)

    assert ga.instructions == "x"
    assert ga.voice is None
    assert ga.extra == {"audio": {"output": {"voice": {"id": "v_1"}}}}
    assert preview.instructions == "x"
    assert preview.output_modalities == ("text",)
    assert preview.extra == {"voice": 7}
