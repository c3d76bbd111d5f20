"""The codec: frames to events and back, robust to anything the socket delivers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit.errors import ProtocolError
from agentkit.protocol import codec
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import (
    ConversationItemCreate,
    InputAudioBufferAppend,
    ResponseCreate,
    SessionUpdate,
    audio_append,
    function_call_output,
    user_message,
)
from agentkit.protocol.codec import decode, decode_object, encode, event_to_wire
from agentkit.protocol.config import ResponseOptions, SessionConfig
from agentkit.protocol.dialects import PREVIEW_EVENT_ALIASES, Dialect

# -- decode: malformed frames ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        ('["response.done"]', "JSON list, not an object"),
        ("42", "JSON int, not an object"),
        ("null", "JSON NoneType, not an object"),
        ('"text"', "JSON str, not an object"),
        ("{}", "no string 'type'"),
        ('{"type": 5}', "no string 'type'"),
        ('{"type": null, "event_id": "e"}', "no string 'type'"),
        ("[" * 50_000 + "]" * 50_000, "not JSON"),
    ],
    ids=lambda value: value[:20] if isinstance(value, str) else value,
)
def test_malformed_frames_raise_protocol_error(frame: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode(frame)


@pytest.mark.parametrize("frame", [b'{"type":"error"}', bytearray(b"\x00\x01"), memoryview(b"")])
def test_binary_frames_raise_protocol_error(frame: Any) -> None:
    with pytest.raises(ProtocolError, match="binary frame"):
        decode(frame)


@pytest.mark.parametrize(
    ("frame", "where"),
    [
        ({"type": "response.done"}, "response"),
        ({"type": "error", "error": "boom"}, "error"),
        ({"type": "response.function_call_arguments.done", "item_id": "i"}, "call_id"),
        ({"type": "conversation.item.added", "item": {"content": []}}, "item.type"),
        ({"type": "conversation.item.deleted"}, "item_id"),
        ({"type": "response.output_audio.delta", "delta": 5}, "delta"),
        (
            {"type": "rate_limits.updated", "rate_limits": [{"limit": "many"}]},
            "rate_limits.0.limit",
        ),
    ],
)
def test_a_known_type_missing_or_mistyping_a_field_is_a_short_protocol_error(
    frame: dict[str, Any], where: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(json.dumps(frame))

    message = str(caught.value)
    assert message.startswith(f"malformed {frame['type']} event: {where}")
    assert len(message) < 300
    assert "https://" not in message


def test_protocol_error_messages_are_capped_even_for_huge_values() -> None:
    frame = {"type": "error", "error": {"message": "x", "code": ["y" * 100_000]}}

    with pytest.raises(ProtocolError) as caught:
        decode(json.dumps(frame))

    assert len(str(caught.value)) < 300


# -- decode: unknown and aliased types ---------------------------------------------------------


def test_unknown_types_pass_through_with_their_data() -> None:
    frame = {
        "type": "response.future_feature.done",
        "event_id": "ev_9",
        "response_id": "resp_1",
    }

    event = decode(json.dumps(frame))

    assert isinstance(event, ev.UnknownEvent)
    assert event.type == "response.future_feature.done"
    assert event.event_id == "ev_9"
    assert event.data == frame


def test_an_unknown_type_with_a_strange_event_id_still_passes_through() -> None:
    event = decode('{"type":"brand.new","event_id":{"nested":true}}')

    assert isinstance(event, ev.UnknownEvent)
    assert event.event_id is None
    assert event.data == {"type": "brand.new", "event_id": {"nested": True}}


def test_dialect_argument_is_accepted_and_both_vocabularies_decode_either_way() -> None:
    frame = '{"type":"response.audio.delta","delta":"AAAA"}'

    assert decode(frame, Dialect.GA).type == "response.output_audio.delta"
    assert decode(frame, Dialect.PREVIEW).type == "response.output_audio.delta"


def test_decode_object_does_not_change_the_callers_object() -> None:
    data = {"type": "response.audio.delta", "delta": "AAAA", "item_id": "i"}
    slow = {"type": "conversation.item.created", "item": {"type": "message"}}

    decode_object(data)
    decode_object(slow)

    assert data["type"] == "response.audio.delta"
    assert slow["type"] == "conversation.item.created"


def test_null_optional_fields_take_their_defaults() -> None:
    event = decode(
        json.dumps(
            {
                "type": "response.done",
                "response": {
                    "id": "r",
                    "output": [{"type": "function_call", "content": None, "call_id": "c"}],
                    "usage": None,
                },
            }
        )
    )

    assert isinstance(event, ev.ResponseDone)
    assert event.response.output[0].content == ()
    assert event.response.usage is None


# -- decode: the fast path for deltas ----------------------------------------------------------

FAST = [
    ("response.output_audio.delta", ev.ResponseAudioDelta),
    ("response.audio.delta", ev.ResponseAudioDelta),
    ("response.output_audio_transcript.delta", ev.ResponseAudioTranscriptDelta),
    ("response.audio_transcript.delta", ev.ResponseAudioTranscriptDelta),
    ("response.output_text.delta", ev.ResponseTextDelta),
    ("response.text.delta", ev.ResponseTextDelta),
    ("response.function_call_arguments.delta", ev.FunctionCallArgumentsDelta),
]


@pytest.mark.parametrize(("name", "model"), FAST)
def test_deltas_are_built_without_validation(
    name: str, model: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validated a delta")

    monkeypatch.setattr(model, "model_validate", refuse)
    frame = {"type": name, "event_id": "e1", "response_id": "r", "item_id": "i", "delta": "AAAA"}

    event: Any = decode(json.dumps(frame))

    assert type(event) is model
    assert event.type == PREVIEW_EVENT_ALIASES.get(name, name)
    assert (event.event_id, event.response_id, event.item_id) == ("e1", "r", "i")
    assert event.delta == "AAAA"


def test_an_audio_delta_keeps_its_base64_until_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    pcm = bytes(range(256)) * 4
    text = base64.b64encode(pcm).decode()
    frame = json.dumps({"type": "response.output_audio.delta", "delta": text, "item_id": "i"})
    decoded: list[Any] = []
    real = base64.b64decode

    def spy(data: Any) -> bytes:
        decoded.append(data)
        return real(data)

    monkeypatch.setattr(base64, "b64decode", spy)

    event = decode(frame)

    assert isinstance(event, ev.ResponseAudioDelta)
    assert decoded == []
    assert event.delta == text
    assert event.audio() == pcm
    assert len(decoded) == 1


def test_a_delta_whose_delta_is_not_a_string_is_validated_and_rejected() -> None:
    with pytest.raises(ProtocolError, match="delta"):
        decode('{"type":"response.output_audio.delta","delta":null}')


def test_a_hostile_key_cannot_subvert_the_fast_path() -> None:
    event = decode('{"type":"response.output_audio.delta","delta":"AAAA","_fields_set":5}')

    assert isinstance(event, ev.ResponseAudioDelta)
    assert "delta" in event.model_fields_set


# -- encode ------------------------------------------------------------------------------------


def test_audio_append_fast_path_is_the_same_json_as_the_slow_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = audio_append(bytes(range(256)) * 40)
    slow = json.dumps(event_to_wire(event, Dialect.GA), separators=(",", ":"))

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("json.dumps on the audio hot path")

    monkeypatch.setattr(json, "dumps", refuse)  # the module codec calls
    for dialect in Dialect:
        fast = encode(event, dialect)
        assert json.loads(fast) == json.loads(slow)
        assert json.loads(fast) == {
            "type": "input_audio_buffer.append",
            "event_id": event.event_id,
            "audio": event.audio,
        }


HOSTILE = [
    'a"b',
    "a\\b",
    "a\nb",
    "a\x00b",
    "a\x7fb",
    "caf\u00e9",
    "\u2028",
    '","type":"x',
    "\ud800",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_audio_append_escapes_hostile_audio_or_event_ids(text: str) -> None:
    for event in (
        InputAudioBufferAppend(audio=text),
        InputAudioBufferAppend(audio="AAAA", event_id=text),
    ):
        frame = encode(event, Dialect.GA)

        assert json.loads(frame) == {
            "type": "input_audio_buffer.append",
            "event_id": event.event_id,
            "audio": event.audio,
        }


@given(audio=st.text(), event_id=st.text())
@settings(max_examples=200, deadline=None)
def test_audio_append_always_encodes_exactly_what_it_holds(audio: str, event_id: str) -> None:
    event = InputAudioBufferAppend(audio=audio, event_id=event_id)

    frame = encode(event, Dialect.GA)

    assert json.loads(frame) == {
        "type": "input_audio_buffer.append",
        "event_id": event_id,
        "audio": audio,
    }


def test_encode_is_compact_json() -> None:
    frame = encode(user_message("hi"), Dialect.GA)

    assert " " not in frame.replace("hi", "")
    assert json.loads(frame)["item"]["content"] == [{"type": "input_text", "text": "hi"}]


def test_encode_keeps_unicode_intact() -> None:
    frame = encode(user_message("Blåbær \u2603 \U0001f600"), Dialect.PREVIEW)

    assert json.loads(frame)["item"]["content"][0]["text"] == "Blåbær \u2603 \U0001f600"


@given(st.text())
def test_any_text_in_a_tool_output_encodes_to_json_that_reads_back_the_same(text: str) -> None:
    """Lone surrogates included: the fast serialiser refuses them and json.dumps escapes them."""
    frame = encode(function_call_output("call_1", text), Dialect.GA)

    assert json.loads(frame)["item"]["output"] == text


def _general_path(event: Any) -> str:
    return json.dumps(event_to_wire(event, Dialect.GA), separators=(",", ":"))


@pytest.mark.parametrize("text", ["ok", '{"temp": 21}', *HOSTILE])
def test_a_tool_rounds_replies_are_written_directly_and_say_what_the_general_path_says(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [
        function_call_output("call_1", text),
        function_call_output(text, "ok"),
        ConversationItemCreate(
            event_id=text, item={"type": "function_call_output", "call_id": "c", "output": "o"}
        ),
        ResponseCreate(),
        ResponseCreate(event_id=text),
    ]
    expected = [json.loads(_general_path(event)) for event in events]

    serialise = codec.to_json

    def strings_only(value: Any) -> bytes:
        assert isinstance(value, str), "a whole reply went through the serialiser"
        return serialise(value)

    monkeypatch.setattr(codec, "to_json", strings_only)
    for event, wanted in zip(events, expected, strict=True):
        for dialect in Dialect:
            assert json.loads(encode(event, dialect)) == wanted


def test_other_items_and_response_options_take_the_general_path() -> None:
    others = [
        ConversationItemCreate(
            item={"type": "function_call_output", "call_id": "c", "output": "o"},
            previous_item_id="item_1",
        ),
        ConversationItemCreate(
            item={"type": "function_call_output", "call_id": "c", "output": "o", "id": "x"}
        ),
        ConversationItemCreate(item={"type": "function_call_output", "call_id": "c", "output": 3}),
        ResponseCreate(response=ResponseOptions(instructions="Be brief.")),
    ]
    for event in others:
        assert codec._reply(event) is None
        assert json.loads(encode(event, Dialect.GA)) == event_to_wire(event, Dialect.GA)


# -- a typical agent's session.update, exactly ------------------------------------------------


def test_snapshot_of_a_typical_ga_session_update() -> None:
    from agentkit.protocol.config import TurnDetection

    event = SessionUpdate(
        event_id="evt_1",
        session=SessionConfig(
            instructions="You are a travel helper.",
            voice="marin",
            input_audio_format="pcm16",
            output_audio_format="pcm16",
            turn_detection=TurnDetection(
                type="server_vad", silence_duration_ms=500, create_response=True
            ),
            tools=(
                {
                    "type": "function",
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            ),
            tool_choice="auto",
            temperature=0.8,
        ),
    )

    assert json.loads(encode(event, Dialect.GA)) == {
        "type": "session.update",
        "event_id": "evt_1",
        "session": {
            "type": "realtime",
            "instructions": "You are a travel helper.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": {
                        "type": "server_vad",
                        "silence_duration_ms": 500,
                        "create_response": True,
                    },
                },
                "output": {"voice": "marin", "format": {"type": "audio/pcm", "rate": 24000}},
            },
            "tools": [
                {
                    "type": "function",
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                }
            ],
            "tool_choice": "auto",
        },
    }


# -- decode never raises anything but ProtocolError ---------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
NAMES = sorted({*codec._MODELS, *PREVIEW_EVENT_ALIASES, "brand.new"})
FIELDS = st.sampled_from(
    ["delta", "item", "response", "session", "error", "part", "item_id", "call_id",
     "rate_limits", "event_id", "output_index", "content", "output", "_fields_set"]
)  # fmt: skip


def _decode_or_protocol_error(frame: str) -> None:
    try:
        event = decode(frame)
    except ProtocolError:
        return
    assert isinstance(event.type, str)


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_decode_of_any_text_returns_an_event_or_raises_protocol_error(frame: str) -> None:
    _decode_or_protocol_error(frame)


@given(JSON)
@settings(max_examples=300, deadline=None)
def test_decode_of_any_json_value_returns_an_event_or_raises_protocol_error(value: Any) -> None:
    _decode_or_protocol_error(json.dumps(value))


@given(st.sampled_from(NAMES), st.dictionaries(FIELDS | st.text(max_size=6), JSON, max_size=5))
@settings(max_examples=400, deadline=None)
def test_decode_of_any_object_of_a_known_type_returns_an_event_or_raises_protocol_error(
    name: str, fields: dict[str, Any]
) -> None:
    _decode_or_protocol_error(json.dumps({**fields, "type": name}))


def _decoded_or_error(decoder: Any, value: Any) -> Any:
    try:
        return decoder(value)
    except ProtocolError:
        return ProtocolError


@given(st.sampled_from(NAMES), st.dictionaries(FIELDS | st.text(max_size=6), JSON, max_size=5))
@settings(max_examples=400, deadline=None)
def test_frames_written_type_first_decode_as_their_parsed_object_does(
    name: str, fields: dict[str, Any]
) -> None:
    """The service writes ``type`` first, and such frames are validated straight from the JSON
    text; the result must be what the general path makes of the parsed object."""
    frame = json.dumps({"type": name, **fields}, separators=(",", ":"))

    assert _decoded_or_error(decode, frame) == _decoded_or_error(decode_object, json.loads(frame))


def test_a_type_first_frame_with_nulls_for_defaults_still_decodes() -> None:
    frame = '{"type":"response.done","response":{"id":"r","output":null,"usage":null}}'

    event = decode(frame)

    assert isinstance(event, ev.ResponseDone)
    assert event.response.output == () and event.response.usage is None
