"""Server event models: GA names, tolerant of new fields and nulls, cheap helpers."""

from __future__ import annotations

import base64
from typing import get_args

import pytest
from pydantic import ValidationError

from agentkit.protocol import events as ev
from agentkit.protocol.codec import _MODELS, decode_object


def test_the_server_event_union_holds_every_decodable_model_and_unknown() -> None:
    assert set(get_args(ev.ServerEvent)) == set(_MODELS.values()) | {ev.UnknownEvent}


def test_every_model_is_named_by_its_ga_type() -> None:
    for name, model in _MODELS.items():
        assert model.model_fields["type"].default == name
        assert not name.startswith(("response.audio", "response.text"))
    assert "conversation.item.created" not in _MODELS


@pytest.mark.parametrize(
    ("wire", "ga"),
    [
        ("text", "output_text"),
        ("audio", "output_audio"),
        ("input_text", "input_text"),
        (None, None),
    ],
)
def test_content_part_types_use_ga_names(wire: str | None, ga: str | None) -> None:
    assert ev.ContentPart(type=wire).type == ga


def test_content_part_text_is_its_text_or_its_transcript() -> None:
    assert ev.ContentPart(type="output_text", text="a").as_text == "a"
    assert ev.ContentPart(type="output_audio", transcript="b").as_text == "b"
    assert ev.ContentPart(type="output_text", text="", transcript="b").as_text == ""
    assert ev.ContentPart(type="input_audio").as_text is None


def test_item_text_joins_its_parts() -> None:
    item = ev.Item.model_validate(
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "text", "text": "It is "},
                {"type": "audio"},
                {"transcript": "4."},
            ],
        }
    )

    assert item.text == "It is 4."
    assert ev.Item(type="function_call").text == ""


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ({"type": "cancelled", "reason": "client_cancelled"}, "client_cancelled"),
        ({"type": "failed", "error": {"code": "x"}}, None),
        ({"reason": 5}, None),
        (None, None),
    ],
)
def test_response_status_reason(details: dict[str, object] | None, reason: str | None) -> None:
    assert ev.Response(status_details=details).status_reason == reason


def test_audio_delta_decodes_its_bytes_on_request() -> None:
    event = ev.ResponseAudioDelta(delta=base64.b64encode(b"\x01\x02\xff").decode())

    assert event.audio() == b"\x01\x02\xff"


def test_events_are_frozen_and_keep_unknown_fields() -> None:
    event = ev.ConversationItemDeleted.model_validate(
        {"type": "conversation.item.deleted", "item_id": "i", "new_field": [1]}
    )

    assert event.model_extra == {"new_field": [1]}
    with pytest.raises(ValidationError):
        event.item_id = "j"  # type: ignore[misc]


def test_null_for_a_defaulted_field_means_the_default() -> None:
    """The codec reads null as the default, as the SDK does (the models alone do not)."""
    event = decode_object(
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "i",
            "content_index": None,
            "delta": None,
        }
    )
    error = decode_object({"type": "error", "error": {"message": None, "code": None}})
    limits = decode_object({"type": "rate_limits.updated", "rate_limits": None})

    assert isinstance(event, ev.InputAudioTranscriptionDelta)
    assert (event.content_index, event.delta) == (0, "")
    assert isinstance(error, ev.ErrorEvent)
    assert (error.error.message, error.error.code) == ("", None)
    assert isinstance(limits, ev.RateLimitsUpdated)
    assert limits.rate_limits == ()


def test_nulls_in_free_form_objects_are_kept() -> None:
    event = decode_object(
        {
            "type": "response.done",
            "response": {"id": "r", "output": None, "status_details": {"reason": None}},
        }
    )

    assert isinstance(event, ev.ResponseDone)
    assert event.response.output == ()
    assert event.response.status_details == {"reason": None}


def test_null_for_a_required_field_is_still_an_error() -> None:
    with pytest.raises(ValidationError):
        ev.ConversationItemDeleted.model_validate({"item_id": None})
