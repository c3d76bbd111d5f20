"""Client events agentkit sends, as frozen models, and builders for them.

Each event carries an ``event_id`` so that an ``error`` from the server can be matched back to the
event that caused it. Models hold GA shapes; :func:`agentkit.protocol.codec.encode` turns them
into the socket's dialect.
"""

from __future__ import annotations

import base64
import itertools
import os
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agentkit.protocol.config import ResponseOptions, SessionConfig

__all__ = [
    "ClientEvent",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "ResponseCancel",
    "ResponseCreate",
    "SessionUpdate",
    "assistant_message",
    "audio_append",
    "function_call",
    "function_call_output",
    "RESUME_ITEM_PREFIX",
    "new_event_id",
    "new_item_id",
    "response_create",
    "system_message",
    "user_audio",
    "user_image",
    "user_message",
]

_EVENT_PREFIX = "ak_" + os.urandom(4).hex() + "_"
_event_counter = itertools.count(1)


def new_event_id() -> str:
    """A process-unique client event id; cheap enough for every audio chunk."""
    return _EVENT_PREFIX + str(next(_event_counter))


RESUME_ITEM_PREFIX = "ak_resume_"
"""Item ids of the system notes agentkit adds after a reconnect (kept out of the history)."""
_ITEM_PREFIX = "ak_item_" + os.urandom(3).hex() + "_"
_item_counter = itertools.count(1)


def new_item_id() -> str:
    """A client-chosen item id (at most 32 characters), so the item's ack can be matched."""
    return _ITEM_PREFIX + str(next(_item_counter))


class _ClientEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    event_id: str = Field(default_factory=new_event_id)


class SessionUpdate(_ClientEvent):
    type: Literal["session.update"] = "session.update"
    session: SessionConfig


class ConversationItemCreate(_ClientEvent):
    """Add an item. ``previous_item_id``: omit to append, ``"root"`` to prepend."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: dict[str, Any]
    previous_item_id: str | None = None


class ConversationItemTruncate(_ClientEvent):
    """Cut an assistant audio item to what the user actually heard (barge-in)."""

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int = 0
    audio_end_ms: int = Field(ge=0)


class ConversationItemDelete(_ClientEvent):
    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ConversationItemRetrieve(_ClientEvent):
    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ResponseCreate(_ClientEvent):
    type: Literal["response.create"] = "response.create"
    response: ResponseOptions | None = None


class ResponseCancel(_ClientEvent):
    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


class InputAudioBufferAppend(_ClientEvent):
    """A chunk of input audio, base64 in the session's input format."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class InputAudioBufferCommit(_ClientEvent):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(_ClientEvent):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


ClientEvent = (
    SessionUpdate
    | ConversationItemCreate
    | ConversationItemTruncate
    | ConversationItemDelete
    | ConversationItemRetrieve
    | ResponseCreate
    | ResponseCancel
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
)


def _message(role: str, parts: list[dict[str, Any]], item_id: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message", "role": role, "content": parts}
    if item_id is not None:
        item["id"] = item_id
    return item


def user_message(text: str, *, item_id: str | None = None) -> ConversationItemCreate:
    """A user's typed message."""
    return ConversationItemCreate(
        item=_message("user", [{"type": "input_text", "text": text}], item_id)
    )


def user_audio(
    audio: bytes, *, transcript: str | None = None, item_id: str | None = None
) -> ConversationItemCreate:
    """A whole user utterance as one item (instead of streaming it through the buffer)."""
    part: dict[str, Any] = {"type": "input_audio", "audio": base64.b64encode(audio).decode("ascii")}
    if transcript is not None:
        part["transcript"] = transcript
    return ConversationItemCreate(item=_message("user", [part], item_id))


def user_image(
    image_url: str,
    *,
    detail: Literal["auto", "low", "high"] | None = None,
    text: str | None = None,
    item_id: str | None = None,
) -> ConversationItemCreate:
    """A user message showing an image, with optional words before it.

    ``image_url`` is a base64 data URI (``data:image/png;base64,...``), as the GA protocol
    takes it; :class:`agentkit.images.Image` builds one from bytes, a file or a URL.
    """
    parts: list[dict[str, Any]] = []
    if text is not None:
        parts.append({"type": "input_text", "text": text})
    image: dict[str, Any] = {"type": "input_image", "image_url": image_url}
    if detail is not None:
        image["detail"] = detail
    parts.append(image)
    return ConversationItemCreate(item=_message("user", parts, item_id))


def system_message(text: str, *, item_id: str | None = None) -> ConversationItemCreate:
    """Context added mid-session without replacing the instructions."""
    return ConversationItemCreate(
        item=_message("system", [{"type": "input_text", "text": text}], item_id)
    )


def assistant_message(text: str, *, item_id: str | None = None) -> ConversationItemCreate:
    """An assistant turn replayed as text (assistant audio cannot be injected)."""
    return ConversationItemCreate(
        item=_message("assistant", [{"type": "output_text", "text": text}], item_id)
    )


def function_call(
    call_id: str, name: str, arguments: str, *, item_id: str | None = None
) -> ConversationItemCreate:
    """A past function call, replayed into a new session's history."""
    item: dict[str, Any] = {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
    if item_id is not None:
        item["id"] = item_id
    return ConversationItemCreate(item=item)


def function_call_output(call_id: str, output: str) -> ConversationItemCreate:
    """The result of a call; the server checks that the call exists."""
    item = {"type": "function_call_output", "call_id": call_id, "output": output}
    fields = {
        "event_id": new_event_id(),
        "type": "conversation.item.create",
        "item": item,
        "previous_item_id": None,
    }
    return _unvalidated(ConversationItemCreate, fields, {"item"})


def response_create(options: ResponseOptions | None = None) -> ResponseCreate:
    """Ask for a response; ``options`` override the session's configuration for it."""
    if options is not None and type(options) is not ResponseOptions:
        return ResponseCreate(response=options)  # a dict, say: validate it
    fields = {"event_id": new_event_id(), "type": "response.create", "response": options}
    return _unvalidated(ResponseCreate, fields, {"response"})


_E = TypeVar("_E", bound=_ClientEvent)


def _unvalidated(model: type[_E], fields: dict[str, Any], given: set[str]) -> _E:
    """The event validating ``given`` would build, from ``fields`` (every field, in declaration
    order) that need no validation: a tool round's two replies, built from values that are
    already the right types. Validating them cost 1.2-1.8 us each, and 4-5 us with cold caches,
    while the service waited. The attributes are the ones pydantic documents for constructed
    models; a test compares the result with a validated one."""
    event = object.__new__(model)
    object.__setattr__(event, "__dict__", fields)
    object.__setattr__(event, "__pydantic_fields_set__", given)
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def audio_append(audio: bytes) -> InputAudioBufferAppend:
    """A chunk of input audio from raw bytes."""
    return InputAudioBufferAppend(audio=base64.b64encode(audio).decode("ascii"))
