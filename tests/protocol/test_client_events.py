"""Client event builders: the right shapes, and a unique event_id on every event."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from agentkit.protocol.client_events import (
    ConversationItemCreate,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    ResponseCreate,
    assistant_message,
    audio_append,
    function_call,
    function_call_output,
    new_event_id,
    response_create,
    system_message,
    user_audio,
    user_message,
)
from agentkit.protocol.config import ResponseOptions
from tests.protocol.catalogue import client_events


def test_every_built_client_event_has_a_unique_event_id() -> None:
    events = [*client_events().values(), *client_events().values()]
    events += [audio_append(b"\x00" * 960) for _ in range(1000)]

    ids = [event.event_id for event in events]

    assert len(set(ids)) == len(ids)
    assert all(isinstance(event_id, str) and event_id for event_id in ids)


def test_event_ids_are_short_ascii_and_safe_for_the_audio_fast_path() -> None:
    event_id = new_event_id()

    assert event_id.isascii() and event_id.isprintable()
    assert '"' not in event_id and "\\" not in event_id
    assert len(event_id) < 32


@pytest.mark.parametrize(
    ("event", "item"),
    [
        (
            user_message("Hi", item_id="u1"),
            {
                "type": "message",
                "role": "user",
                "id": "u1",
                "content": [{"type": "input_text", "text": "Hi"}],
            },
        ),
        (
            system_message("Context"),
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "Context"}],
            },
        ),
        (
            assistant_message("Said"),
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Said"}],
            },
        ),
        (
            user_audio(b"\x01\x02", transcript="hm"),
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": "AQI=", "transcript": "hm"}],
            },
        ),
        (
            function_call("c1", "f", "{}", item_id="f1"),
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}", "id": "f1"},
        ),
        (
            function_call_output("c1", ""),
            {"type": "function_call_output", "call_id": "c1", "output": ""},
        ),
    ],
)
def test_item_builders(event: ConversationItemCreate, item: dict[str, Any]) -> None:
    assert event.type == "conversation.item.create"
    assert event.item == item
    assert event.previous_item_id is None


def test_audio_append_holds_base64_of_the_bytes() -> None:
    event = audio_append(b"\x00\xff" * 10)

    assert event.type == "input_audio_buffer.append"
    assert base64.b64decode(event.audio) == b"\x00\xff" * 10


def test_client_events_reject_unknown_fields_and_negative_truncation() -> None:
    with pytest.raises(ValidationError):
        ConversationItemTruncate(item_id="i", audio_end_ms=-1)
    with pytest.raises(ValidationError):
        InputAudioBufferAppend(audio="AAAA", extra_field=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ResponseCreate(response={"modalities": ["text"]})


def test_client_events_are_frozen() -> None:
    event = user_message("x")

    with pytest.raises(ValidationError):
        event.event_id = "other"  # type: ignore[misc]


def _as_validated(built: Any, validated: Any) -> None:
    """``built`` (not validated) is what pydantic builds, bar the event id."""
    assert type(built) is type(validated)
    assert list(built.__dict__) == list(validated.__dict__)
    assert {**built.__dict__, "event_id": "x"} == {**validated.__dict__, "event_id": "x"}
    assert built.model_fields_set == validated.model_fields_set
    assert built.__pydantic_extra__ == validated.__pydantic_extra__
    assert built.__pydantic_private__ == validated.__pydantic_private__
    assert built.model_copy(update={"event_id": "x"}) == validated.model_copy(
        update={"event_id": "x"}
    )
    assert {**built.model_dump(), "event_id": "x"} == {**validated.model_dump(), "event_id": "x"}
    assert type(built).model_validate(built.model_dump()).model_dump() == built.model_dump()
    with pytest.raises(ValidationError):  # still frozen
        built.event_id = "changed"


def test_a_tool_rounds_replies_are_built_as_validation_would_build_them() -> None:
    _as_validated(
        function_call_output("call_1", "ok"),
        ConversationItemCreate(
            item={"type": "function_call_output", "call_id": "call_1", "output": "ok"}
        ),
    )
    _as_validated(response_create(), ResponseCreate(response=None))
    options = ResponseOptions(instructions="Be brief.", tool_choice="none")
    _as_validated(response_create(options), ResponseCreate(response=options))
    assert function_call_output("c", "o").event_id != function_call_output("c", "o").event_id


def test_response_create_validates_options_that_are_not_a_model() -> None:
    event = response_create({"instructions": "Be brief."})  # type: ignore[arg-type]
    assert event.response == ResponseOptions(instructions="Be brief.")
    with pytest.raises(ValidationError):
        response_create({"temperature": "hot"})  # type: ignore[arg-type]
