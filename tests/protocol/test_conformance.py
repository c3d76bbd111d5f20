"""Conformance with the official ``openai`` SDK's types (the oracle; a test-only dependency).

Every client event agentkit can emit must validate against the SDK's client event union for the
socket's dialect, with no unknown key and nothing dropped; server events built from the SDK's
types must decode into agentkit's models.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit.protocol.client_events import ClientEvent
from agentkit.protocol.codec import encode
from agentkit.protocol.dialects import Dialect
from tests.protocol.catalogue import client_events
from tests.protocol.oracle import GA_CLIENT_EVENT, PREVIEW_CLIENT_EVENT, assert_conforms

CLIENT_EVENTS = client_events()


@pytest.mark.parametrize("event", CLIENT_EVENTS.values(), ids=CLIENT_EVENTS.keys())
def test_every_client_event_conforms_to_the_ga_sdk_types(event: ClientEvent) -> None:
    frame = encode(event, Dialect.GA)

    model = assert_conforms(frame, GA_CLIENT_EVENT)

    assert model.event_id == event.event_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("event", CLIENT_EVENTS.values(), ids=CLIENT_EVENTS.keys())
def test_every_client_event_conforms_to_the_preview_sdk_types(event: ClientEvent) -> None:
    frame = encode(event, Dialect.PREVIEW)

    model = assert_conforms(frame, PREVIEW_CLIENT_EVENT)

    assert model.event_id == event.event_id  # type: ignore[attr-defined]


def test_the_catalogue_covers_every_client_event_class() -> None:
    from agentkit.protocol import client_events as ce

    emitted = {type(event) for event in CLIENT_EVENTS.values()}
    declared = {cls for cls in vars(ce).values() if isinstance(cls, type) and cls in _members()}

    assert emitted == declared


def _members() -> set[Any]:
    from typing import get_args

    from agentkit.protocol.client_events import ClientEvent as Union

    return set(get_args(Union))


def test_ga_session_update_always_names_the_session_type() -> None:
    for name, event in CLIENT_EVENTS.items():
        if name.startswith("session.update"):
            assert json.loads(encode(event, Dialect.GA))["session"]["type"] == "realtime"
            assert "type" not in json.loads(encode(event, Dialect.PREVIEW))["session"]


# -- server events built from the SDK's types -------------------------------------------------

from openai.types import realtime as ga  # noqa: E402
from openai.types.beta import realtime as beta  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from agentkit.protocol import events as ev  # noqa: E402
from agentkit.protocol.codec import decode  # noqa: E402
from tests.protocol.oracle import sdk_model  # noqa: E402

B64 = "AAECAwQFBgc="
USAGE = {
    "total_tokens": 231,
    "input_tokens": 212,
    "output_tokens": 19,
    "input_token_details": {
        "text_tokens": 200,
        "audio_tokens": 12,
        "image_tokens": 0,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 19, "audio_tokens": 0},
}
CALL_ITEM = {
    "id": "item_F1",
    "object": "realtime.item",
    "type": "function_call",
    "status": "completed",
    "call_id": "call_9",
    "name": "get_weather",
    "arguments": '{"city":"Oslo"}',
}
ASSISTANT_ITEM = {
    "id": "item_A1",
    "object": "realtime.item",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_audio", "transcript": "It is 4 degrees."}],
}
USER_ITEM = {
    "id": "item_U1",
    "object": "realtime.item",
    "type": "message",
    "role": "user",
    "status": "completed",
    "content": [
        {"type": "input_text", "text": "Weather in Oslo?"},
        {"type": "input_audio", "transcript": "in Oslo"},
    ],
}
# The SDK types session.created's session as a create request: no id, object or expires_at.
GA_SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
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
                "create_response": True,
                "interrupt_response": True,
                "idle_timeout_ms": None,
            },
            "transcription": None,
            "noise_reduction": None,
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.0},
    },
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "include": None,
}
CONTENT = {"response_id": "resp_2", "item_id": "item_A1", "output_index": 0, "content_index": 0}


def _response(status: str, output: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "realtime.response",
        "status": status,
        "output": output,
        "conversation_id": "conv_1",
        **more,
    }


# (sdk model, fields, agentkit model, {dotted path on the decoded event: expected value})
GA_SERVER_EVENTS: dict[str, tuple[type[BaseModel], dict[str, Any], type[Any], dict[str, Any]]] = {
    "session.created": (
        ga.SessionCreatedEvent,
        {"type": "session.created", "event_id": "ev_1", "session": GA_SESSION},
        ev.SessionCreated,
        {
            "event_id": "ev_1",
            "session.model": "gpt-realtime",
            "session.audio.output.voice": "marin",
        },
    ),
    "session.updated": (
        ga.SessionUpdatedEvent,
        {"type": "session.updated", "event_id": "ev_2", "session": GA_SESSION},
        ev.SessionUpdated,
        {"session.tool_choice": "auto", "session.max_output_tokens": "inf"},
    ),
    "conversation.created": (
        ga.ConversationCreatedEvent,
        {
            "type": "conversation.created",
            "event_id": "ev_c",
            "conversation": {"id": "conv_1", "object": "realtime.conversation"},
        },
        ev.ConversationCreated,
        {"conversation.id": "conv_1"},
    ),
    "conversation.item.added": (
        ga.ConversationItemAdded,
        {
            "type": "conversation.item.added",
            "event_id": "ev_3",
            "previous_item_id": None,
            "item": USER_ITEM,
        },
        ev.ConversationItemAdded,
        {
            "item.id": "item_U1",
            "item.role": "user",
            "item.content.0.type": "input_text",
            "item.content.1.type": "input_audio",
            "item.text": "Weather in Oslo?in Oslo",
            "previous_item_id": None,
        },
    ),
    "conversation.item.created": (
        ga.ConversationItemCreatedEvent,
        {
            "type": "conversation.item.created",
            "event_id": "ev_3b",
            "previous_item_id": "item_U1",
            "item": CALL_ITEM,
        },
        ev.ConversationItemAdded,
        {
            "type": "conversation.item.added",
            "item.call_id": "call_9",
            "previous_item_id": "item_U1",
        },
    ),
    "conversation.item.done": (
        ga.ConversationItemDone,
        {
            "type": "conversation.item.done",
            "event_id": "ev_4",
            "previous_item_id": "item_U1",
            "item": ASSISTANT_ITEM,
        },
        ev.ConversationItemDone,
        {"item.content.0.type": "output_audio", "item.text": "It is 4 degrees."},
    ),
    "conversation.item.truncated": (
        ga.ConversationItemTruncatedEvent,
        {
            "type": "conversation.item.truncated",
            "event_id": "ev_t",
            "item_id": "item_A1",
            "content_index": 0,
            "audio_end_ms": 1500,
        },
        ev.ConversationItemTruncated,
        {"item_id": "item_A1", "audio_end_ms": 1500},
    ),
    "conversation.item.deleted": (
        ga.ConversationItemDeletedEvent,
        {"type": "conversation.item.deleted", "event_id": "ev_d", "item_id": "item_F1"},
        ev.ConversationItemDeleted,
        {"item_id": "item_F1"},
    ),
    "input_audio_buffer.committed": (
        ga.InputAudioBufferCommittedEvent,
        {
            "type": "input_audio_buffer.committed",
            "event_id": "ev_5",
            "item_id": "item_U2",
            "previous_item_id": "item_A1",
        },
        ev.InputAudioBufferCommitted,
        {"item_id": "item_U2", "previous_item_id": "item_A1"},
    ),
    "input_audio_buffer.cleared": (
        ga.InputAudioBufferClearedEvent,
        {"type": "input_audio_buffer.cleared", "event_id": "ev_6"},
        ev.InputAudioBufferCleared,
        {"event_id": "ev_6"},
    ),
    "input_audio_buffer.speech_started": (
        ga.InputAudioBufferSpeechStartedEvent,
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "ev_7",
            "audio_start_ms": 1200,
            "item_id": "item_U2",
        },
        ev.InputAudioBufferSpeechStarted,
        {"audio_start_ms": 1200, "item_id": "item_U2"},
    ),
    "input_audio_buffer.speech_stopped": (
        ga.InputAudioBufferSpeechStoppedEvent,
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": "ev_8",
            "audio_end_ms": 2400,
            "item_id": "item_U2",
        },
        ev.InputAudioBufferSpeechStopped,
        {"audio_end_ms": 2400},
    ),
    "input_audio_buffer.timeout_triggered": (
        ga.InputAudioBufferTimeoutTriggered,
        {
            "type": "input_audio_buffer.timeout_triggered",
            "event_id": "ev_9",
            "audio_start_ms": 100,
            "audio_end_ms": 6100,
            "item_id": "item_U3",
        },
        ev.InputAudioBufferTimeoutTriggered,
        {"audio_start_ms": 100, "audio_end_ms": 6100, "item_id": "item_U3"},
    ),
    "input_audio_buffer.dtmf_event_received": (
        ga.InputAudioBufferDtmfEventReceivedEvent,
        {"type": "input_audio_buffer.dtmf_event_received", "event": "7", "received_at": 1767229200},
        ev.InputAudioBufferDtmfReceived,
        {"event": "7", "received_at": 1767229200},
    ),
    "transcription.delta": (
        ga.ConversationItemInputAudioTranscriptionDeltaEvent,
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "event_id": "ev_10",
            "item_id": "item_U2",
            "content_index": 0,
            "delta": "Weath",
        },
        ev.InputAudioTranscriptionDelta,
        {"item_id": "item_U2", "delta": "Weath"},
    ),
    "transcription.completed": (
        ga.ConversationItemInputAudioTranscriptionCompletedEvent,
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "ev_11",
            "item_id": "item_U2",
            "content_index": 0,
            "transcript": "Weather in Oslo?",
            "usage": {"type": "duration", "seconds": 1.4},
        },
        ev.InputAudioTranscriptionCompleted,
        {"transcript": "Weather in Oslo?", "usage.seconds": 1.4},
    ),
    "transcription.failed": (
        ga.ConversationItemInputAudioTranscriptionFailedEvent,
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "event_id": "ev_12",
            "item_id": "item_U2",
            "content_index": 0,
            "error": {"type": "server_error", "code": "audio_unintelligible", "message": "no."},
        },
        ev.InputAudioTranscriptionFailed,
        {"error.code": "audio_unintelligible", "error.message": "no."},
    ),
    "response.created": (
        ga.ResponseCreatedEvent,
        {
            "type": "response.created",
            "event_id": "ev_13",
            "response": _response("in_progress", [], metadata={"purpose": "summary"}),
        },
        ev.ResponseCreated,
        {"response.id": "resp_1", "response.status": "in_progress", "response.output": ()},
    ),
    "response.done[function_call]": (
        ga.ResponseDoneEvent,
        {
            "type": "response.done",
            "event_id": "ev_14",
            "response": _response(
                "completed",
                [ASSISTANT_ITEM, CALL_ITEM],
                usage=USAGE,
                status_details=None,
                output_modalities=["audio"],
                max_output_tokens="inf",
            ),
        },
        ev.ResponseDone,
        {
            "response.status": "completed",
            "response.output.1.type": "function_call",
            "response.output.1.call_id": "call_9",
            "response.output.1.name": "get_weather",
            "response.output.1.arguments": '{"city":"Oslo"}',
            "response.output.0.content.0.type": "output_audio",
            "response.usage.total_tokens": 231,
            "response.usage.input_token_details.cached_tokens": 64,
            "response.conversation_id": "conv_1",
        },
    ),
    "response.done[cancelled]": (
        ga.ResponseDoneEvent,
        {
            "type": "response.done",
            "event_id": "ev_15",
            "response": _response(
                "cancelled", [], status_details={"type": "cancelled", "reason": "turn_detected"}
            ),
        },
        ev.ResponseDone,
        {"response.status": "cancelled", "response.status_reason": "turn_detected"},
    ),
    "response.done[failed]": (
        ga.ResponseDoneEvent,
        {
            "type": "response.done",
            "event_id": "ev_16",
            "response": _response(
                "failed",
                [],
                status_details={
                    "type": "failed",
                    "error": {"type": "server_error", "code": "internal"},
                },
            ),
        },
        ev.ResponseDone,
        {"response.status": "failed", "response.status_details.error.code": "internal"},
    ),
    "response.output_item.added": (
        ga.ResponseOutputItemAddedEvent,
        {
            "type": "response.output_item.added",
            "event_id": "ev_17",
            "response_id": "resp_1",
            "output_index": 1,
            "item": {**CALL_ITEM, "status": "in_progress", "arguments": ""},
        },
        ev.ResponseOutputItemAdded,
        {"output_index": 1, "item.status": "in_progress", "item.name": "get_weather"},
    ),
    "response.output_item.done": (
        ga.ResponseOutputItemDoneEvent,
        {
            "type": "response.output_item.done",
            "event_id": "ev_18",
            "response_id": "resp_1",
            "output_index": 1,
            "item": CALL_ITEM,
        },
        ev.ResponseOutputItemDone,
        {"response_id": "resp_1", "item.status": "completed", "item.call_id": "call_9"},
    ),
    "response.content_part.added": (
        ga.ResponseContentPartAddedEvent,
        {
            "type": "response.content_part.added",
            "event_id": "ev_19",
            **CONTENT,
            "part": {"type": "audio", "transcript": ""},
        },
        ev.ResponseContentPartAdded,
        {"part.type": "output_audio", "part.transcript": "", "item_id": "item_A1"},
    ),
    "response.content_part.done": (
        ga.ResponseContentPartDoneEvent,
        {
            "type": "response.content_part.done",
            "event_id": "ev_20",
            **CONTENT,
            "part": {"type": "text", "text": "Hi."},
        },
        ev.ResponseContentPartDone,
        {"part.type": "output_text", "part.as_text": "Hi."},
    ),
    "response.output_text.delta": (
        ga.ResponseTextDeltaEvent,
        {"type": "response.output_text.delta", "event_id": "ev_21", **CONTENT, "delta": "Hi"},
        ev.ResponseTextDelta,
        {"delta": "Hi", "response_id": "resp_2", "content_index": 0},
    ),
    "response.output_text.done": (
        ga.ResponseTextDoneEvent,
        {"type": "response.output_text.done", "event_id": "ev_22", **CONTENT, "text": "Hi."},
        ev.ResponseTextDone,
        {"text": "Hi."},
    ),
    "response.output_audio.delta": (
        ga.ResponseAudioDeltaEvent,
        {"type": "response.output_audio.delta", "event_id": "ev_23", **CONTENT, "delta": B64},
        ev.ResponseAudioDelta,
        {"delta": B64, "item_id": "item_A1", "output_index": 0},
    ),
    "response.output_audio.done": (
        ga.ResponseAudioDoneEvent,
        {"type": "response.output_audio.done", "event_id": "ev_24", **CONTENT},
        ev.ResponseAudioDone,
        {"item_id": "item_A1"},
    ),
    "response.output_audio_transcript.delta": (
        ga.ResponseAudioTranscriptDeltaEvent,
        {
            "type": "response.output_audio_transcript.delta",
            "event_id": "ev_25",
            **CONTENT,
            "delta": "It is",
        },
        ev.ResponseAudioTranscriptDelta,
        {"delta": "It is"},
    ),
    "response.output_audio_transcript.done": (
        ga.ResponseAudioTranscriptDoneEvent,
        {
            "type": "response.output_audio_transcript.done",
            "event_id": "ev_26",
            **CONTENT,
            "transcript": "It is 4 degrees.",
        },
        ev.ResponseAudioTranscriptDone,
        {"transcript": "It is 4 degrees."},
    ),
    "response.function_call_arguments.delta": (
        ga.ResponseFunctionCallArgumentsDeltaEvent,
        {
            "type": "response.function_call_arguments.delta",
            "event_id": "ev_27",
            "response_id": "resp_1",
            "item_id": "item_F1",
            "output_index": 1,
            "call_id": "call_9",
            "delta": '{"city":"Os',
        },
        ev.FunctionCallArgumentsDelta,
        {"call_id": "call_9", "delta": '{"city":"Os', "output_index": 1},
    ),
    "response.function_call_arguments.done": (
        ga.ResponseFunctionCallArgumentsDoneEvent,
        {
            "type": "response.function_call_arguments.done",
            "event_id": "ev_28",
            "response_id": "resp_1",
            "item_id": "item_F1",
            "output_index": 1,
            "call_id": "call_9",
            "name": "get_weather",
            "arguments": '{"city":"Oslo"}',
        },
        ev.FunctionCallArgumentsDone,
        {"call_id": "call_9", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
    ),
    "rate_limits.updated": (
        ga.RateLimitsUpdatedEvent,
        {
            "type": "rate_limits.updated",
            "event_id": "ev_29",
            "rate_limits": [
                {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06},
                {"name": "tokens", "limit": 40000, "remaining": 39100, "reset_seconds": 1.4},
            ],
        },
        ev.RateLimitsUpdated,
        {"rate_limits.1.name": "tokens", "rate_limits.1.remaining": 39100},
    ),
    "mcp_list_tools.in_progress": (
        ga.McpListToolsInProgress,
        {"type": "mcp_list_tools.in_progress", "event_id": "ev_m1", "item_id": "mcpl_1"},
        ev.McpListToolsInProgress,
        {"item_id": "mcpl_1"},
    ),
    "mcp_list_tools.completed": (
        ga.McpListToolsCompleted,
        {"type": "mcp_list_tools.completed", "event_id": "ev_m2", "item_id": "mcpl_1"},
        ev.McpListToolsCompleted,
        {"item_id": "mcpl_1"},
    ),
    "mcp_list_tools.failed": (
        ga.McpListToolsFailed,
        {"type": "mcp_list_tools.failed", "event_id": "ev_m3", "item_id": "mcpl_2"},
        ev.McpListToolsFailed,
        {"item_id": "mcpl_2"},
    ),
    "response.mcp_call_arguments.delta": (
        ga.ResponseMcpCallArgumentsDelta,
        {
            "type": "response.mcp_call_arguments.delta",
            "event_id": "ev_m4",
            "response_id": "resp_1",
            "item_id": "mcp_1",
            "output_index": 1,
            "delta": '{"city"',
        },
        ev.ResponseMcpCallArgumentsDelta,
        {"response_id": "resp_1", "item_id": "mcp_1", "output_index": 1, "delta": '{"city"'},
    ),
    "response.mcp_call_arguments.done": (
        ga.ResponseMcpCallArgumentsDone,
        {
            "type": "response.mcp_call_arguments.done",
            "event_id": "ev_m5",
            "response_id": "resp_1",
            "item_id": "mcp_1",
            "output_index": 1,
            "arguments": '{"city": "Oslo"}',
        },
        ev.ResponseMcpCallArgumentsDone,
        {"item_id": "mcp_1", "arguments": '{"city": "Oslo"}'},
    ),
    "response.mcp_call.in_progress": (
        ga.ResponseMcpCallInProgress,
        {
            "type": "response.mcp_call.in_progress",
            "event_id": "ev_m6",
            "item_id": "mcp_1",
            "output_index": 1,
        },
        ev.ResponseMcpCallInProgress,
        {"item_id": "mcp_1", "output_index": 1},
    ),
    "response.mcp_call.completed": (
        ga.ResponseMcpCallCompleted,
        {
            "type": "response.mcp_call.completed",
            "event_id": "ev_m7",
            "item_id": "mcp_1",
            "output_index": 1,
        },
        ev.ResponseMcpCallCompleted,
        {"item_id": "mcp_1"},
    ),
    "response.mcp_call.failed": (
        ga.ResponseMcpCallFailed,
        {
            "type": "response.mcp_call.failed",
            "event_id": "ev_m8",
            "item_id": "mcp_2",
            "output_index": 0,
        },
        ev.ResponseMcpCallFailed,
        {"item_id": "mcp_2"},
    ),
    "error": (
        ga.RealtimeErrorEvent,
        {
            "type": "error",
            "event_id": "ev_30",
            "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "Conversation already has an active response in progress: resp_1.",
                "param": None,
                "event_id": "ak_x_3",
            },
        },
        ev.ErrorEvent,
        {
            "error.code": "conversation_already_has_active_response",
            "error.event_id": "ak_x_3",
            "error.type": "invalid_request_error",
        },
    ),
}


def pluck(value: Any, path: str) -> Any:
    """``a.b.0.c`` on models, dicts and tuples."""
    for part in path.split("."):
        if part.isdigit():
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value


# The server may send any optional field as null, so each event is sent twice: with only the
# fields set, and with every optional field the SDK knows as an explicit null.
DUMPS = {
    "set_fields": lambda model: model.model_dump_json(exclude_unset=True),
    "with_nulls": lambda model: model.model_dump_json(),
}


@pytest.mark.parametrize("dump", DUMPS.values(), ids=DUMPS.keys())
@pytest.mark.parametrize(
    ("sdk", "fields", "expected_type", "expected"),
    GA_SERVER_EVENTS.values(),
    ids=GA_SERVER_EVENTS.keys(),
)
def test_ga_server_events_from_the_sdk_decode_into_agentkit_models(
    sdk: type[BaseModel],
    fields: dict[str, Any],
    expected_type: type[Any],
    expected: dict[str, Any],
    dump: Any,
) -> None:
    frame = dump(sdk_model(sdk, **fields))

    event = decode(frame)

    assert type(event) is expected_type
    assert event.event_id == fields.get("event_id")  # the SDK's DTMF event has none
    assert {path: pluck(event, path) for path in expected} == expected


def test_the_ga_catalogue_covers_every_modelled_event_type() -> None:
    from agentkit.protocol.codec import _MODELS

    covered = {fields["type"] for _, fields, _, _ in GA_SERVER_EVENTS.values()}

    assert set(_MODELS) - covered == {"conversation.item.retrieved"}  # not in the SDK


PREVIEW_SERVER_EVENTS: dict[
    str, tuple[type[BaseModel], dict[str, Any], type[Any], dict[str, Any]]
] = {
    "session.created": (
        beta.SessionCreatedEvent,
        {
            "type": "session.created",
            "event_id": "ev_1",
            "session": {
                "id": "sess_P",
                "model": "gpt-4o-realtime-preview",
                "modalities": ["text", "audio"],
                "voice": "alloy",
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "create_response": True,
                    "interrupt_response": True,
                },
                "input_audio_transcription": None,
                "tool_choice": "auto",
                "temperature": 0.8,
                "max_response_output_tokens": "inf",
            },
        },
        ev.SessionCreated,
        {"session.modalities": ["text", "audio"], "session.voice": "alloy"},
    ),
    "conversation.item.created": (
        beta.ConversationItemCreatedEvent,
        {
            "type": "conversation.item.created",
            "event_id": "ev_2",
            "previous_item_id": "item_0",
            "item": {
                "id": "item_A1",
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [{"type": "text", "text": "Hi"}, {"type": "audio", "transcript": "Hi"}],
            },
        },
        ev.ConversationItemAdded,
        {
            "type": "conversation.item.added",
            "previous_item_id": "item_0",
            "item.content.0.type": "output_text",
            "item.content.1.type": "output_audio",
            "item.text": "HiHi",
        },
    ),
    "response.audio.delta": (
        beta.ResponseAudioDeltaEvent,
        {"type": "response.audio.delta", "event_id": "ev_3", **CONTENT, "delta": B64},
        ev.ResponseAudioDelta,
        {"type": "response.output_audio.delta", "delta": B64, "response_id": "resp_2"},
    ),
    "response.audio.done": (
        beta.ResponseAudioDoneEvent,
        {"type": "response.audio.done", "event_id": "ev_4", **CONTENT},
        ev.ResponseAudioDone,
        {"type": "response.output_audio.done", "item_id": "item_A1"},
    ),
    "response.audio_transcript.delta": (
        beta.ResponseAudioTranscriptDeltaEvent,
        {"type": "response.audio_transcript.delta", "event_id": "ev_5", **CONTENT, "delta": "It"},
        ev.ResponseAudioTranscriptDelta,
        {"type": "response.output_audio_transcript.delta", "delta": "It"},
    ),
    "response.audio_transcript.done": (
        beta.ResponseAudioTranscriptDoneEvent,
        {
            "type": "response.audio_transcript.done",
            "event_id": "ev_6",
            **CONTENT,
            "transcript": "It is.",
        },
        ev.ResponseAudioTranscriptDone,
        {"type": "response.output_audio_transcript.done", "transcript": "It is."},
    ),
    "response.text.delta": (
        beta.ResponseTextDeltaEvent,
        {"type": "response.text.delta", "event_id": "ev_7", **CONTENT, "delta": "Hi"},
        ev.ResponseTextDelta,
        {"type": "response.output_text.delta", "delta": "Hi"},
    ),
    "response.text.done": (
        beta.ResponseTextDoneEvent,
        {"type": "response.text.done", "event_id": "ev_8", **CONTENT, "text": "Hi."},
        ev.ResponseTextDone,
        {"type": "response.output_text.done", "text": "Hi."},
    ),
    "response.content_part.added": (
        beta.ResponseContentPartAddedEvent,
        {
            "type": "response.content_part.added",
            "event_id": "ev_9",
            **CONTENT,
            "part": {"type": "audio", "transcript": ""},
        },
        ev.ResponseContentPartAdded,
        {"part.type": "output_audio"},
    ),
    "response.function_call_arguments.done": (
        beta.ResponseFunctionCallArgumentsDoneEvent,
        {
            "type": "response.function_call_arguments.done",
            "event_id": "ev_10",
            "response_id": "resp_1",
            "item_id": "item_F1",
            "output_index": 0,
            "call_id": "call_9",
            "arguments": "{}",
        },
        ev.FunctionCallArgumentsDone,
        {"call_id": "call_9", "name": None, "arguments": "{}"},
    ),
    "response.done": (
        beta.ResponseDoneEvent,
        {
            "type": "response.done",
            "event_id": "ev_11",
            "response": {
                "id": "resp_1",
                "object": "realtime.response",
                "status": "completed",
                "output": [
                    {
                        "id": "item_A1",
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "audio", "transcript": "Checking."}],
                    },
                    {
                        "id": "item_F1",
                        "type": "function_call",
                        "call_id": "call_9",
                        "name": "get_weather",
                        "arguments": "{}",
                    },
                ],
                "usage": {
                    "total_tokens": 30,
                    "input_tokens": 20,
                    "output_tokens": 10,
                    "input_token_details": {"text_tokens": 20, "audio_tokens": 0},
                    "output_token_details": {"text_tokens": 4, "audio_tokens": 6},
                },
            },
        },
        ev.ResponseDone,
        {
            "response.output.0.content.0.type": "output_audio",
            "response.output.0.text": "Checking.",
            "response.output.1.call_id": "call_9",
            "response.usage.output_tokens": 10,
        },
    ),
    "error": (
        beta.ErrorEvent,
        {
            "type": "error",
            "event_id": "ev_12",
            "error": {
                "type": "invalid_request_error",
                "code": "unknown_parameter",
                "message": "Unknown parameter: 'session.type'.",
                "param": "session.type",
                "event_id": "ak_x_1",
            },
        },
        ev.ErrorEvent,
        {"error.param": "session.type", "error.code": "unknown_parameter"},
    ),
}


@pytest.mark.parametrize("dump", DUMPS.values(), ids=DUMPS.keys())
@pytest.mark.parametrize(
    ("sdk", "fields", "expected_type", "expected"),
    PREVIEW_SERVER_EVENTS.values(),
    ids=PREVIEW_SERVER_EVENTS.keys(),
)
def test_preview_server_events_from_the_sdk_decode_under_ga_names(
    sdk: type[BaseModel],
    fields: dict[str, Any],
    expected_type: type[Any],
    expected: dict[str, Any],
    dump: Any,
) -> None:
    frame = dump(sdk_model(sdk, **fields))

    event = decode(frame)

    assert type(event) is expected_type
    assert {path: pluck(event, path) for path in expected} == expected
