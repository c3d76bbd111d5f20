"""Frames to events and back: the pure edge between the socket and the typed world.

Decoding accepts the names of both dialects and returns GA-named models; unknown event types pass
through as :class:`UnknownEvent`. High-rate deltas skip validation when their shape is right, so an
audio chunk costs a ``json.loads`` and an object, not a schema walk or a base64 decode.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, from_json, to_json

from agentkit.errors import ProtocolError
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import (
    ClientEvent,
    ConversationItemCreate,
    InputAudioBufferAppend,
    ResponseCreate,
    SessionUpdate,
)
from agentkit.protocol.dialects import (
    PREVIEW_EVENT_ALIASES,
    Dialect,
    item_to_wire,
    response_options_to_wire,
    session_to_wire,
)

__all__ = ["decode", "decode_object", "encode", "event_to_wire"]

_KNOWN: tuple[type[BaseModel], ...] = (
    ev.SessionCreated,
    ev.SessionUpdated,
    ev.ConversationCreated,
    ev.ConversationItemAdded,
    ev.ConversationItemDone,
    ev.ConversationItemRetrieved,
    ev.ConversationItemTruncated,
    ev.ConversationItemDeleted,
    ev.InputAudioTranscriptionDelta,
    ev.InputAudioTranscriptionCompleted,
    ev.InputAudioTranscriptionFailed,
    ev.InputAudioBufferCommitted,
    ev.InputAudioBufferCleared,
    ev.InputAudioBufferSpeechStarted,
    ev.InputAudioBufferSpeechStopped,
    ev.InputAudioBufferTimeoutTriggered,
    ev.InputAudioBufferDtmfReceived,
    ev.ResponseCreated,
    ev.ResponseDone,
    ev.ResponseOutputItemAdded,
    ev.ResponseOutputItemDone,
    ev.ResponseContentPartAdded,
    ev.ResponseContentPartDone,
    ev.ResponseTextDelta,
    ev.ResponseTextDone,
    ev.ResponseAudioTranscriptDelta,
    ev.ResponseAudioTranscriptDone,
    ev.ResponseAudioDelta,
    ev.ResponseAudioDone,
    ev.FunctionCallArgumentsDelta,
    ev.FunctionCallArgumentsDone,
    ev.McpListToolsInProgress,
    ev.McpListToolsCompleted,
    ev.McpListToolsFailed,
    ev.ResponseMcpCallArgumentsDelta,
    ev.ResponseMcpCallArgumentsDone,
    ev.ResponseMcpCallInProgress,
    ev.ResponseMcpCallCompleted,
    ev.ResponseMcpCallFailed,
    ev.RateLimitsUpdated,
    ev.ErrorEvent,
)
_MODELS: dict[str, type[BaseModel]] = {
    cast(str, model.model_fields["type"].default): model for model in _KNOWN
}
_FAST_TYPES: tuple[type[BaseModel], ...] = (
    ev.ResponseAudioDelta,
    ev.ResponseAudioTranscriptDelta,
    ev.ResponseTextDelta,
    ev.FunctionCallArgumentsDelta,
)
_FAST = frozenset(_FAST_TYPES)
# Each model's JSON validator, called without pydantic's Python wrapper around it (a sixth of
# the cost of validating a small event).
_VALIDATE_JSON: dict[str, Callable[[str], ev.ServerEvent]] = {
    name: model.__pydantic_validator__.validate_json
    for name, model in _MODELS.items()
    if model not in _FAST
}
_FAST_FIELDS = {model: frozenset(model.model_fields) for model in _FAST_TYPES}
_FAST_DEFAULTS = {
    model: {name: f.default for name, f in model.model_fields.items() if not f.is_required()}
    for model in _FAST_TYPES
}
_MAX_ERROR_DETAIL = 200


def decode(frame: str | bytes, dialect: Dialect | None = None) -> ev.ServerEvent:
    """Decode one WebSocket frame into a server event, under its GA name.

    ``dialect`` names the socket's dialect; decoding accepts both vocabularies whatever it is
    (GA servers still send ``conversation.item.created``), so it only documents the caller.

    Raises:
        ProtocolError: the frame is binary, not JSON, not an object, has no string ``type``, or a
            known event type lacks a required field. The session reports it and goes on.
    """
    if isinstance(frame, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"unexpected binary frame of {len(frame)} bytes")
    if frame.startswith('{"type":"'):  # how the service writes every event
        validate_json = _VALIDATE_JSON.get(frame[9 : frame.find('"', 9)])
        if validate_json is not None:
            try:
                # Parsing and validating in one pass skips building the dicts in between.
                return validate_json(frame)
            except ValidationError:
                pass  # nulls meaning "default", or a real error: the general path decides
    try:
        # pydantic-core's JSON parser: several times faster than json.loads on audio frames.
        data = from_json(frame)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ProtocolError(f"frame is not JSON ({len(frame)} chars): {exc}") from exc
    return decode_object(data)


def decode_object(data: Any) -> ev.ServerEvent:
    """Decode an already-parsed JSON value; see :func:`decode`."""
    if not isinstance(data, dict):
        raise ProtocolError(f"event is a JSON {type(data).__name__}, not an object")
    name = data.get("type")
    if not isinstance(name, str):
        raise ProtocolError("event has no string 'type'")
    name = PREVIEW_EVENT_ALIASES.get(name, name)
    model = _MODELS.get(name)
    if model is None:
        event_id = data.get("event_id")
        return ev.UnknownEvent(
            type=name, data=data, event_id=event_id if isinstance(event_id, str) else None
        )
    if data["type"] != name:
        data = {**data, "type": name}  # a copy: the caller's object stays as it came
    if model in _FAST and _well_formed_delta(data):
        return cast(ev.ServerEvent, _construct_delta(model, data))
    try:
        return cast(ev.ServerEvent, model.model_validate(data))
    except ValidationError as exc:
        cleaned = ev.without_nulls(model, data)  # type: ignore[arg-type]
        if cleaned != data:  # null for a field with a default: the default, as the SDK reads it
            try:
                return cast(ev.ServerEvent, model.model_validate(cleaned))
            except ValidationError:
                pass
        raise ProtocolError(f"malformed {name} event: {_first_error(exc)}") from exc


def _construct_delta(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """What ``model_construct`` builds, in a third of its time (it runs per audio chunk).

    It sets the attributes pydantic documents for constructed models; a test checks the result
    equals ``model_construct``'s, so a pydantic upgrade that changes them is caught.
    """
    if not data.keys() <= _FAST_FIELDS[model]:
        return model.model_construct(**data)  # extra fields: let pydantic file them
    event = object.__new__(model)
    object.__setattr__(event, "__dict__", {**_FAST_DEFAULTS[model], **data})
    object.__setattr__(event, "__pydantic_fields_set__", set(data))
    object.__setattr__(event, "__pydantic_extra__", {})
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def _well_formed_delta(data: dict[str, Any]) -> bool:
    """A delta whose fields have the right types, so skipping validation cannot let a wrong
    type through (the checks cost a fraction of validating)."""
    get = data.get
    return (
        type(get("delta")) is str
        and type(get("response_id", "")) is str
        and type(get("item_id", "")) is str
        and "_fields_set" not in data
    )


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']}"[:_MAX_ERROR_DETAIL]


def event_to_wire(event: ClientEvent, dialect: Dialect) -> dict[str, Any]:
    """The JSON object for ``event`` in ``dialect``'s shape."""
    if isinstance(event, SessionUpdate):
        return {
            "type": event.type,
            "event_id": event.event_id,
            "session": session_to_wire(event.session, dialect),
        }
    if isinstance(event, ResponseCreate):
        wire: dict[str, Any] = {"type": event.type, "event_id": event.event_id}
        if event.response is not None:
            wire["response"] = response_options_to_wire(event.response, dialect)
        return wire
    if isinstance(event, ConversationItemCreate):
        wire = {"type": event.type, "event_id": event.event_id}
        if event.previous_item_id is not None:
            wire["previous_item_id"] = event.previous_item_id
        wire["item"] = item_to_wire(event.item, dialect)
        return wire
    return event.model_dump(exclude_none=True)


def _needs_no_escape(text: str) -> bool:
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _json_string(text: str) -> str:
    """``text`` as a JSON string literal, as :func:`encode`'s serialiser writes it."""
    if _needs_no_escape(text):
        return '"' + text + '"'
    try:
        return to_json(text).decode()
    except PydanticSerializationError:  # lone surrogates
        return json.dumps(text)


def _reply(event: ClientEvent) -> str | None:
    """A tool round's two replies, written directly: serialising a dict costs a few times
    more, and these leave on every round while the service waits for them."""
    if type(event) is ResponseCreate:
        if event.response is not None:
            return None
        return '{"type":"response.create","event_id":' + _json_string(event.event_id) + "}"
    if type(event) is not ConversationItemCreate or event.previous_item_id is not None:
        return None
    item = event.item
    call_id, output = item.get("call_id"), item.get("output")
    if (
        len(item) != 3
        or item.get("type") != "function_call_output"
        or type(call_id) is not str
        or type(output) is not str
    ):
        return None
    return (
        '{"type":"conversation.item.create","event_id":'
        + _json_string(event.event_id)
        + ',"item":{"type":"function_call_output","call_id":'
        + _json_string(call_id)
        + ',"output":'
        + _json_string(output)
        + "}}"
    )


def encode(event: ClientEvent, dialect: Dialect) -> str:
    """Serialise a client event for a socket speaking ``dialect``."""
    if (
        type(event) is InputAudioBufferAppend
        and _needs_no_escape(event.audio)
        and _needs_no_escape(event.event_id)
    ):
        # Hot path: json.dumps scans a long base64 string far slower than a concatenation.
        return (
            '{"type":"input_audio_buffer.append","event_id":"'
            + event.event_id
            + '","audio":"'
            + event.audio
            + '"}'
        )
    reply = _reply(event)  # the same in both dialects
    if reply is not None:
        return reply
    wire = event_to_wire(event, dialect)
    try:
        # pydantic-core's serialiser: several times faster than json.dumps. It writes non-ASCII
        # text as UTF-8, which is what a text frame carries anyway.
        return to_json(wire).decode()
    except PydanticSerializationError:  # lone surrogates: only json.dumps's escapes carry them
        return json.dumps(wire, separators=(",", ":"))
