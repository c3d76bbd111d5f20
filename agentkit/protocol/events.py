"""Server events as frozen pydantic models, under their GA names.

Both dialects decode into these models (see :mod:`agentkit.protocol.codec`), so code above the
codec reads one vocabulary. Unknown event types become :class:`UnknownEvent` instead of failing.
Models accept extra fields so that a service adding a field never breaks decoding.
"""

from __future__ import annotations

import base64
import types
import typing
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = [
    "ContentPart",
    "ConversationCreated",
    "ConversationItemAdded",
    "ConversationItemDeleted",
    "ConversationItemDone",
    "ConversationItemRetrieved",
    "ConversationItemTruncated",
    "ErrorDetail",
    "ErrorEvent",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferDtmfReceived",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionFailed",
    "Item",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "RateLimit",
    "RateLimitsUpdated",
    "Response",
    "ResponseAudioDelta",
    "ResponseAudioDone",
    "ResponseAudioTranscriptDelta",
    "ResponseAudioTranscriptDone",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseTextDelta",
    "ResponseTextDone",
    "ServerEvent",
    "SessionCreated",
    "SessionUpdated",
    "UnknownEvent",
    "Usage",
]

# Preview names assistant content parts "text"/"audio"; GA says "output_text"/"output_audio".
_CONTENT_TYPE_ALIASES = {"text": "output_text", "audio": "output_audio"}


def _allows_none(annotation: Any) -> bool:
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(_allows_none(arg) for arg in typing.get_args(annotation))
    return False


class _Model(BaseModel):
    """Frozen, tolerant of new fields, and reading ``null`` as "absent" where a default exists.

    The SDK types most fields as optional, and the service sends ``null`` for them; a field that
    agentkit types without ``None`` but with a default takes the default instead of failing.
    The codec does that (see :func:`without_nulls`), only when validation fails: a Python
    validator on every model would run for every nested object of every event.
    """

    model_config = ConfigDict(frozen=True, extra="allow")
    _null_means_default: ClassVar[frozenset[str]] = frozenset()
    _nested: ClassVar[dict[str, type[_Model]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._null_means_default = frozenset(
            name
            for name, field in cls.model_fields.items()
            if not field.is_required() and not _allows_none(field.annotation)
        )
        cls._nested = {
            name: nested
            for name, field in cls.model_fields.items()
            if (nested := _model_in(field.annotation)) is not None
        }


def _model_in(annotation: Any) -> type[_Model] | None:
    """The model a field holds, alone, optional or in a tuple (``Usage | None``, ``tuple[Item,
    ...]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, _Model):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def without_nulls(model: type[_Model], data: Any) -> Any:
    """``data`` without the ``null`` values that mean "default" for ``model`` and the models
    nested in it; free-form dicts (``session``, ``status_details``...) are left as they are."""
    if type(data) is not dict:
        return data
    drop, nested = model._null_means_default, model._nested
    cleaned = {}
    for key, value in data.items():
        if value is None and key in drop:
            continue
        inner = nested.get(key)
        if inner is not None:
            if type(value) is list:
                value = [without_nulls(inner, element) for element in value]
            else:
                value = without_nulls(inner, value)
        cleaned[key] = value
    return cleaned


class ContentPart(_Model):
    """One content part of a message item (``input_text``, ``output_audio``...)."""

    type: str | None = None
    text: str | None = None
    transcript: str | None = None
    audio: str | None = None

    @field_validator("type")
    @classmethod
    def _ga_name(cls, value: str | None) -> str | None:
        return _CONTENT_TYPE_ALIASES.get(value, value) if value is not None else None

    @property
    def as_text(self) -> str | None:
        """The part's words: its text, or the transcript of its audio."""
        return self.text if self.text is not None else self.transcript


class Item(_Model):
    """A conversation item: a message, a function call or its output, or an item of a hosted
    MCP tool (``mcp_list_tools``, ``mcp_call``, ``mcp_approval_request``,
    ``mcp_approval_response``).

    The hosted MCP fields are read from the item's extra fields by the properties below, so the
    items of every other session validate no field more (items decode on every tool round).
    """

    type: str
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: tuple[ContentPart, ...] = ()
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    @property
    def text(self) -> str:
        """All the words of a message item joined (audio parts by their transcript)."""
        return "".join(part.as_text or "" for part in self.content)

    @property
    def server_label(self) -> str | None:
        """The hosted MCP server's label (``mcp_*`` items but the approval response)."""
        return _extra_of(self, "server_label", str)

    @property
    def approval_request_id(self) -> str | None:
        """The request an ``mcp_approval_response`` answers, or an ``mcp_call`` followed."""
        return _extra_of(self, "approval_request_id", str)

    @property
    def approve(self) -> bool | None:
        """An ``mcp_approval_response``'s decision."""
        return _extra_of(self, "approve", bool)

    @property
    def reason(self) -> str | None:
        """Why an ``mcp_approval_response`` decided as it did, if it says."""
        return _extra_of(self, "reason", str)

    @property
    def error(self) -> dict[str, Any] | None:
        """An ``mcp_call``'s error object (``type``, ``message``, ``code``), if it failed."""
        return _extra_of(self, "error", dict)

    @property
    def tools(self) -> tuple[dict[str, Any], ...]:
        """An ``mcp_list_tools`` item's tools (``name``, ``input_schema``, ``description``...)."""
        listed = _extra_of(self, "tools", list) or _extra_of(self, "tools", tuple) or ()
        return tuple(tool for tool in listed if isinstance(tool, dict))


_T = typing.TypeVar("_T")


def _extra_of(item: Item, name: str, kind: type[_T]) -> _T | None:
    value = (item.__pydantic_extra__ or {}).get(name)
    return value if isinstance(value, kind) else None


class Usage(_Model):
    """Token usage of one response; details keep the service's shape."""

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: dict[str, Any] | None = None
    output_token_details: dict[str, Any] | None = None


class Response(_Model):
    """The ``response`` object of ``response.created`` / ``response.done``."""

    id: str | None = None
    status: str | None = None
    status_details: dict[str, Any] | None = None
    output: tuple[Item, ...] = ()
    usage: Usage | None = None
    metadata: dict[str, Any] | None = None
    conversation_id: str | None = None

    @property
    def status_reason(self) -> str | None:
        """``turn_detected``, ``client_cancelled``, ``max_output_tokens``... if given."""
        reason = (self.status_details or {}).get("reason")
        return reason if isinstance(reason, str) else None


class ErrorDetail(_Model):
    """The ``error`` object of an ``error`` event."""

    message: str = ""
    type: str | None = None
    code: str | None = None
    param: str | None = None
    event_id: str | None = None


class RateLimit(_Model):
    name: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


class _ServerEvent(_Model):
    event_id: str | None = None


class SessionCreated(_ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: dict[str, Any]


class SessionUpdated(_ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: dict[str, Any]


class ConversationCreated(_ServerEvent):
    type: Literal["conversation.created"] = "conversation.created"
    conversation: dict[str, Any] = {}


class ConversationItemAdded(_ServerEvent):
    """GA ``conversation.item.added``; preview ``conversation.item.created`` decodes to this."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    item: Item
    previous_item_id: str | None = None


class ConversationItemDone(_ServerEvent):
    type: Literal["conversation.item.done"] = "conversation.item.done"
    item: Item
    previous_item_id: str | None = None


class ConversationItemRetrieved(_ServerEvent):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: Item


class ConversationItemTruncated(_ServerEvent):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int = 0
    audio_end_ms: int = 0


class ConversationItemDeleted(_ServerEvent):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class InputAudioTranscriptionDelta(_ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int = 0
    delta: str = ""


class InputAudioTranscriptionCompleted(_ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str = ""
    usage: dict[str, Any] | None = None


class InputAudioTranscriptionFailed(_ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: ErrorDetail


class InputAudioBufferCommitted(_ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(_ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(_ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int = 0
    item_id: str | None = None


class InputAudioBufferSpeechStopped(_ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int = 0
    item_id: str | None = None


class InputAudioBufferTimeoutTriggered(_ServerEvent):
    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int = 0
    audio_end_ms: int = 0
    item_id: str | None = None


class InputAudioBufferDtmfReceived(_ServerEvent):
    type: Literal["input_audio_buffer.dtmf_event_received"] = (
        "input_audio_buffer.dtmf_event_received"
    )
    event: str
    received_at: int | None = None


class ResponseCreated(_ServerEvent):
    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDone(_ServerEvent):
    type: Literal["response.done"] = "response.done"
    response: Response


class ResponseOutputItemAdded(_ServerEvent):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str | None = None
    output_index: int = 0
    item: Item


class ResponseOutputItemDone(_ServerEvent):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str | None = None
    output_index: int = 0
    item: Item


class _ContentEvent(_ServerEvent):
    response_id: str | None = None
    item_id: str | None = None
    output_index: int = 0
    content_index: int = 0


class ResponseContentPartAdded(_ContentEvent):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart


class ResponseContentPartDone(_ContentEvent):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart


class ResponseTextDelta(_ContentEvent):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class ResponseTextDone(_ContentEvent):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str = ""


class ResponseAudioTranscriptDelta(_ContentEvent):
    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseAudioTranscriptDone(_ContentEvent):
    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str = ""


class ResponseAudioDelta(_ContentEvent):
    """A chunk of output audio. ``delta`` stays base64 until :meth:`audio` is called."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str

    def audio(self) -> bytes:
        """The chunk's raw bytes (PCM16 or G.711, as the session's output format says)."""
        return base64.b64decode(self.delta)


class ResponseAudioDone(_ContentEvent):
    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class FunctionCallArgumentsDelta(_ServerEvent):
    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str | None = None
    item_id: str | None = None
    output_index: int = 0
    call_id: str | None = None
    delta: str = ""


class FunctionCallArgumentsDone(_ServerEvent):
    """Arguments complete. ``name`` is absent in the preview dialect (read it from the item)."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str | None = None
    item_id: str | None = None
    output_index: int = 0
    call_id: str
    name: str | None = None
    arguments: str = ""


class McpListToolsInProgress(_ServerEvent):
    """The service is listing a hosted MCP server's tools (the ``mcp_list_tools`` item)."""

    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompleted(_ServerEvent):
    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailed(_ServerEvent):
    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class ResponseMcpCallArgumentsDelta(_ServerEvent):
    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    response_id: str | None = None
    item_id: str
    output_index: int = 0
    delta: str = ""


class ResponseMcpCallArgumentsDone(_ServerEvent):
    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    response_id: str | None = None
    item_id: str
    output_index: int = 0
    arguments: str = ""


class ResponseMcpCallInProgress(_ServerEvent):
    """The service is calling a hosted MCP tool (the ``mcp_call`` item)."""

    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int = 0


class ResponseMcpCallCompleted(_ServerEvent):
    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"
    item_id: str
    output_index: int = 0


class ResponseMcpCallFailed(_ServerEvent):
    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    item_id: str
    output_index: int = 0


class RateLimitsUpdated(_ServerEvent):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: tuple[RateLimit, ...] = ()


class ErrorEvent(_ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


class UnknownEvent(_ServerEvent):
    """An event type agentkit does not model; ``data`` holds the whole decoded object."""

    type: str
    data: dict[str, Any]


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | ConversationCreated
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemRetrieved
    | ConversationItemTruncated
    | ConversationItemDeleted
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferTimeoutTriggered
    | InputAudioBufferDtmfReceived
    | ResponseCreated
    | ResponseDone
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseTextDelta
    | ResponseTextDone
    | ResponseAudioTranscriptDelta
    | ResponseAudioTranscriptDone
    | ResponseAudioDelta
    | ResponseAudioDone
    | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
    | McpListToolsInProgress
    | McpListToolsCompleted
    | McpListToolsFailed
    | ResponseMcpCallArgumentsDelta
    | ResponseMcpCallArgumentsDone
    | ResponseMcpCallInProgress
    | ResponseMcpCallCompleted
    | ResponseMcpCallFailed
    | RateLimitsUpdated
    | ErrorEvent
    | UnknownEvent
)
"""Every server event agentkit decodes, under GA names."""
