"""Events the application sees, separate from the wire vocabulary.

Wire events say what the service sent; these say what happened to the conversation, in the same
words whatever the endpoint or dialect. They are frozen pydantic models with a ``type`` literal,
so ``match event: case AudioDelta(): ...`` and discriminated unions both work.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agentkit.protocol.events import Usage
from agentkit.usage import TokenUsage

__all__ = [
    "AsideFinished",
    "AudioDelta",
    "AudioDone",
    "BackgroundResult",
    "DtmfReceived",
    "ErrorOccurred",
    "Event",
    "EventsDropped",
    "GuardrailTripped",
    "HandoffOccurred",
    "HostedToolApprovalAnswered",
    "HostedToolApprovalRequested",
    "HostedToolArgumentsDelta",
    "HostedToolArgumentsDone",
    "HostedToolCall",
    "HostedToolCallFinished",
    "HostedToolsListing",
    "InputTimeout",
    "Interrupted",
    "ReasoningDone",
    "ReconnectGaveUp",
    "Reconnected",
    "Reconnecting",
    "ResponseFinished",
    "ResponseStarted",
    "SessionClosed",
    "SessionReady",
    "SpeechStarted",
    "SpeechStopped",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolProgress",
    "TranscriptDelta",
    "TranscriptDone",
    "Usage",
    "UsageUpdated",
    "UserTranscript",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


class SessionReady(_Event):
    """The service accepted the connection and agentkit's configuration."""

    type: Literal["session_ready"] = "session_ready"
    session_id: str | None = None
    expires_at: int | None = None


class TranscriptDelta(_Event):
    """A piece of the assistant's words: text output, or the transcript of its audio."""

    type: Literal["transcript_delta"] = "transcript_delta"
    response_id: str | None = None
    item_id: str | None = None
    delta: str


class TranscriptDone(_Event):
    type: Literal["transcript_done"] = "transcript_done"
    response_id: str | None = None
    item_id: str | None = None
    text: str


class AudioDelta(_Event):
    """A chunk of assistant audio; ``data`` stays base64 until :meth:`audio` is called."""

    type: Literal["audio_delta"] = "audio_delta"
    response_id: str | None = None
    item_id: str | None = None
    data: str

    def audio(self) -> bytes:
        return base64.b64decode(self.data)


class AudioDone(_Event):
    type: Literal["audio_done"] = "audio_done"
    response_id: str | None = None
    item_id: str | None = None


class UserTranscript(_Event):
    """The service's transcription of what the user said (needs input transcription on)."""

    type: Literal["user_transcript"] = "user_transcript"
    item_id: str
    text: str


class SpeechStarted(_Event):
    type: Literal["speech_started"] = "speech_started"
    audio_start_ms: int = 0
    item_id: str | None = None


class InputTimeout(_Event):
    """No speech for the turn detection's ``idle_timeout_ms``: the service commits the silence
    and answers it (a prompt to go on, say), so the application can tell a silent user."""

    type: Literal["input_timeout"] = "input_timeout"
    item_id: str | None = None
    audio_start_ms: int = 0
    audio_end_ms: int = 0


class DtmfReceived(_Event):
    """A telephone keypad press on a SIP call (``0``-``9``, ``*``, ``#``, ``A``-``D``)."""

    type: Literal["dtmf_received"] = "dtmf_received"
    key: str
    received_at: int | None = None  # Unix seconds, as the service stamped it


class ReasoningDone(_Event):
    """A reasoning item of a reasoning model's response, with its summary if the service sent
    one. It is never spoken and never part of ``ResponseFinished.text``."""

    type: Literal["reasoning_done"] = "reasoning_done"
    response_id: str | None = None
    item_id: str | None = None
    summary: str = ""


class SpeechStopped(_Event):
    type: Literal["speech_stopped"] = "speech_stopped"
    audio_end_ms: int = 0
    item_id: str | None = None


class Interrupted(_Event):
    """The assistant was cut off (barge-in or the app); stop playback now.

    ``audio_end_ms`` is where its audio was truncated, if it was.
    """

    type: Literal["interrupted"] = "interrupted"
    response_id: str | None = None
    item_id: str | None = None
    audio_end_ms: int | None = None


class ResponseStarted(_Event):
    type: Literal["response_started"] = "response_started"
    response_id: str | None = None


class ResponseFinished(_Event):
    """``status`` is ``completed``, ``cancelled``, ``incomplete`` or ``failed``."""

    type: Literal["response_finished"] = "response_finished"
    response_id: str | None = None
    status: str | None = None
    reason: str | None = None
    usage: Usage | None = None
    text: str = ""


class AsideFinished(_Event):
    """An out-of-band response (``Session.aside``) ended; it never entered the conversation.

    ``metadata`` is what the caller gave, for correlation; ``text`` its words.
    """

    type: Literal["aside_finished"] = "aside_finished"
    aside_id: str
    response_id: str | None = None
    status: str | None = None
    reason: str | None = None
    usage: Usage | None = None
    text: str = ""
    metadata: dict[str, Any] = {}


class ToolCallStarted(_Event):
    type: Literal["tool_call_started"] = "tool_call_started"
    call_id: str
    name: str
    arguments: str


class ToolCallFinished(_Event):
    """The call's output was decided. ``error_type`` is set when ``is_error``."""

    type: Literal["tool_call_finished"] = "tool_call_finished"
    call_id: str
    name: str
    output: str
    is_error: bool = False
    error_type: str | None = None
    duration_s: float = 0.0


class ToolProgress(_Event):
    type: Literal["tool_progress"] = "tool_progress"
    call_id: str
    name: str
    message: str


class ErrorOccurred(_Event):
    """Something went wrong that the application should know about; the session goes on.

    ``caused_by`` names the client event type the service rejected, when it could be matched.
    """

    type: Literal["error"] = "error"
    message: str
    code: str | None = None
    error_type: str | None = None
    event_id: str | None = None
    caused_by: str | None = None
    details: dict[str, Any] | None = None


class Reconnecting(_Event):
    """The connection dropped (or the session is about to expire); agentkit is getting it back."""

    type: Literal["reconnecting"] = "reconnecting"
    attempt: int
    reason: str
    delay_s: float = 0.0


class Reconnected(_Event):
    """A new socket carries the conversation on. ``not_restored`` says honestly what was lost
    (assistant audio only comes back as its transcript, say) and ``dropped_audio_chunks`` counts
    queued input audio too old to send."""

    type: Literal["reconnected"] = "reconnected"
    attempt: int
    reason: str
    restored_items: int = 0
    not_restored: tuple[str, ...] = ()
    dropped_audio_chunks: int = 0


class ReconnectGaveUp(_Event):
    """Reconnection stopped; a :class:`SessionClosed` follows."""

    type: Literal["reconnect_gave_up"] = "reconnect_gave_up"
    attempts: int
    reason: str


class EventsDropped(_Event):
    """Events the session's iterator will never yield were dropped just before this one.

    Only the iterator sees it, right where the gap is; handlers missed nothing. It comes when
    the iterator had ``limit`` (``SessionOptions.max_buffered_events``) unread events and
    ``SessionOptions.buffer_policy`` is ``"drop_oldest"``, or when no iterator was running.
    ``count`` is this gap, ``total`` every event dropped so far in the session.
    """

    type: Literal["events_dropped"] = "events_dropped"
    count: int
    total: int
    limit: int


class SessionClosed(_Event):
    type: Literal["session_closed"] = "session_closed"
    code: int | None = None
    reason: str = ""


class UsageUpdated(_Event):
    """What a response used, and the session's totals, told just before its ResponseFinished.

    ``cost`` and ``total_cost`` are estimates in US dollars, from ``SessionOptions.prices``
    (``None`` without prices, or when a token kind used has no price); see ``docs/cost.md``.
    """

    type: Literal["usage_updated"] = "usage_updated"
    response_id: str | None = None
    usage: TokenUsage
    total: TokenUsage
    cost: float | None = None
    total_cost: float | None = None


class GuardrailVerdict(BaseModel):
    """What a guardrail decided (see :mod:`agentkit.guardrails`).

    Attributes:
        tripped: the content must not pass.
        message: for an input guardrail, what the model is told instead of the tool's output;
            for an output guardrail, why it tripped (for the application).
        details: anything else the guardrail wants the application to see.
    """

    model_config = ConfigDict(frozen=True)

    tripped: bool = False
    message: str = ""
    details: dict[str, Any] | None = None

    @classmethod
    def passed(cls) -> GuardrailVerdict:
        """Nothing to object to (a check returning ``None`` means the same)."""
        return cls()

    @classmethod
    def trip(cls, message: str, details: dict[str, Any] | None = None) -> GuardrailVerdict:
        """Stop the content, saying why."""
        return cls(tripped=True, message=message, details=details)


class GuardrailTripped(_Event):
    """A guardrail stopped something.

    ``kind`` is ``"output"`` for the assistant's words (``response_id`` and the ``text`` checked
    are set; the response was cancelled and what the user had not heard truncated) or
    ``"input"`` for a tool call (``call_id`` and ``tool_name`` are set; the call was answered
    with the verdict's message and the function never ran).
    """

    type: Literal["guardrail_tripped"] = "guardrail_tripped"
    guardrail: str
    kind: Literal["input", "output"]
    verdict: GuardrailVerdict
    response_id: str | None = None
    text: str = ""
    call_id: str | None = None
    tool_name: str | None = None
    recovering: bool = False


class HandoffOccurred(_Event):
    """The conversation moved to another agent: its instructions, tools and voice settings
    replaced the previous ones in one ``session.update``, sent before the transfer call's
    output, so the follow-up response is the new agent's. The history is kept.

    ``arguments`` is the transfer's input as the model gave it (a reason, say).
    """

    type: Literal["handoff"] = "handoff"
    call_id: str
    tool_name: str
    source: str
    target: str
    arguments: dict[str, Any] = {}
    back: bool = False


class HostedToolsListing(_Event):
    """The service lists a hosted MCP server's tools (``mcp_list_tools.*``): ``status`` is
    ``"in_progress"``, ``"completed"`` or ``"failed"``; ``tools`` names what it found so far."""

    type: Literal["hosted_tools_listing"] = "hosted_tools_listing"
    item_id: str
    status: Literal["in_progress", "completed", "failed"]
    server_label: str | None = None
    tools: tuple[str, ...] = ()


class HostedToolArgumentsDelta(_Event):
    """A piece of the arguments of a hosted MCP call as the model writes them."""

    type: Literal["hosted_tool_arguments_delta"] = "hosted_tool_arguments_delta"
    response_id: str | None = None
    item_id: str
    delta: str


class HostedToolArgumentsDone(_Event):
    """The arguments of a hosted MCP call are complete."""

    type: Literal["hosted_tool_arguments_done"] = "hosted_tool_arguments_done"
    response_id: str | None = None
    item_id: str
    arguments: str
    server_label: str | None = None
    name: str | None = None


class HostedToolCall(_Event):
    """The service's call of a hosted MCP tool moved on (``response.mcp_call.*``):
    ``"in_progress"``, then ``"completed"`` or ``"failed"``. The output comes with
    :class:`HostedToolCallFinished`."""

    type: Literal["hosted_tool_call"] = "hosted_tool_call"
    item_id: str
    status: Literal["in_progress", "completed", "failed"]
    server_label: str | None = None
    name: str | None = None


class HostedToolCallFinished(_Event):
    """A hosted MCP call's item is done: ``output`` is what the server answered, ``error`` the
    service's error object when the call failed. Nothing is owed for it: the service already
    gave the output to the model."""

    type: Literal["hosted_tool_call_finished"] = "hosted_tool_call_finished"
    response_id: str | None = None
    item_id: str
    server_label: str | None = None
    name: str | None = None
    arguments: str = ""
    output: str | None = None
    error: dict[str, Any] | None = None
    approval_request_id: str | None = None


class HostedToolApprovalRequested(_Event):
    """The service asks before calling a hosted MCP tool; agentkit asks the session's approval
    hook (``SessionOptions.approve``) and answers once."""

    type: Literal["hosted_tool_approval_requested"] = "hosted_tool_approval_requested"
    request_id: str
    server_label: str
    name: str
    arguments: str


class HostedToolApprovalAnswered(_Event):
    """agentkit decided an approval request (``mcp_approval_response``); ``reason`` says why a
    denied call was denied."""

    type: Literal["hosted_tool_approval_answered"] = "hosted_tool_approval_answered"
    request_id: str
    server_label: str
    name: str
    approved: bool
    reason: str = ""


class BackgroundResult(_Event):
    """A background job's result entered the conversation, and a response was asked for.

    Told in the session's event stream (``async for event in session``, ``session.on``) by
    the process that spoke it: the one attached to the key now, which may not be the one
    that made the call.

    Attributes:
        key: the session's durable key.
        call_id: the job's call.
        tool_name: the tool that ran.
        output: the tool's output (an error output when ``is_error``).
        is_error: the tool failed or timed out.
        item_id: the conversation item the result arrived in.
    """

    type: Literal["background_result"] = "background_result"
    key: str
    call_id: str
    tool_name: str
    output: str
    is_error: bool = False
    item_id: str


Event = (
    SessionReady
    | TranscriptDelta
    | TranscriptDone
    | AudioDelta
    | AudioDone
    | UserTranscript
    | SpeechStarted
    | SpeechStopped
    | InputTimeout
    | DtmfReceived
    | Interrupted
    | ResponseStarted
    | ResponseFinished
    | ReasoningDone
    | AsideFinished
    | ToolCallStarted
    | ToolCallFinished
    | ToolProgress
    | ErrorOccurred
    | Reconnecting
    | Reconnected
    | ReconnectGaveUp
    | EventsDropped
    | SessionClosed
    | UsageUpdated
    | GuardrailTripped
    | HandoffOccurred
    | HostedToolsListing
    | HostedToolArgumentsDelta
    | HostedToolArgumentsDone
    | HostedToolCall
    | HostedToolCallFinished
    | HostedToolApprovalRequested
    | HostedToolApprovalAnswered
    | BackgroundResult
)
"""Every event an application can receive from a session."""
