"""The dialect-neutral session and response configuration."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agentkit.protocol.config import (
    InputTranscription,
    NoiseReduction,
    ResponseOptions,
    SessionConfig,
    TurnDetection,
)


def test_set_fields_lists_explicit_fields_in_declaration_order_without_extra() -> None:
    config = SessionConfig(tools=(), voice="marin", turn_detection=None, extra={"x": 1})

    assert config.set_fields() == ["voice", "turn_detection", "tools"]
    assert SessionConfig().set_fields() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "server_vad", "eagerness": "high"},
        {"type": "semantic_vad", "threshold": 0.5},
        {"type": "semantic_vad", "prefix_padding_ms": 300},
        {"type": "semantic_vad", "silence_duration_ms": 300},
        {"type": "semantic_vad", "idle_timeout_ms": 3000},
        {"type": "server_vad", "threshold": 1.5},
        {"type": "server_vad", "silence_duration_ms": -1},
        {"type": "push_to_talk"},
        {"type": "server_vad", "threshhold": 0.5},
    ],
)
def test_turn_detection_rejects_settings_its_mode_does_not_have(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TurnDetection(**fields)


def test_turn_detection_modes_with_their_own_settings() -> None:
    server = TurnDetection(threshold=0.4, idle_timeout_ms=0, create_response=False)
    semantic = TurnDetection(type="semantic_vad", eagerness="auto", interrupt_response=True)

    assert server.type == "server_vad"
    assert server.model_dump(exclude_none=True) == {
        "type": "server_vad",
        "threshold": 0.4,
        "create_response": False,
        "idle_timeout_ms": 0,
    }
    assert semantic.eagerness == "auto"


@pytest.mark.parametrize(
    "fields",
    [
        {"speed": 0.2},
        {"speed": 1.6},
        {"input_audio_format": "mp3"},
        {"output_modalities": ("video",)},
        {"max_output_tokens": "lots"},
        {"modalities": ("text",)},
    ],
)
def test_session_config_rejects_bad_values_and_unknown_names(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SessionConfig(**fields)


def test_configs_are_frozen_and_hashable_where_plain() -> None:
    config = SessionConfig(instructions="x")

    with pytest.raises(ValidationError):
        config.instructions = "y"  # type: ignore[misc]
    assert hash(TurnDetection()) == hash(TurnDetection())
    assert hash(NoiseReduction(type="far_field")) == hash(NoiseReduction(type="far_field"))
    assert InputTranscription(model="m") == InputTranscription(model="m")


def test_response_options_reject_unknown_names_and_bad_conversation() -> None:
    with pytest.raises(ValidationError):
        ResponseOptions(modalities=("text",))  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ResponseOptions(conversation="other")
    with pytest.raises(ValidationError):
        ResponseOptions(metadata={"k": 1})
