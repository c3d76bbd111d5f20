"""Server events for the sans-I/O tests, built the way the codec would decode them."""

from __future__ import annotations

from agentkit.protocol import events as ev
from agentkit.protocol.client_events import ConversationItemCreate, ResponseCreate
from agentkit.state import Action, Send


class Clock:
    """A settable monotonic clock for the state's timers."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def call_item(call_id: str, name: str = "tool", arguments: str = "{}", **extra: str) -> ev.Item:
    fields = {"status": "completed", "id": f"item_{call_id}", **extra}
    return ev.Item(type="function_call", call_id=call_id, name=name, arguments=arguments, **fields)


def created(response_id: str) -> ev.ResponseCreated:
    return ev.ResponseCreated(response=ev.Response(id=response_id, status="in_progress"))


def item_done(response_id: str, item: ev.Item) -> ev.ResponseOutputItemDone:
    return ev.ResponseOutputItemDone(response_id=response_id, item=item)


def done(
    response_id: str, *items: ev.Item, status: str = "completed", reason: str | None = None
) -> ev.ResponseDone:
    details = {"type": status, "reason": reason} if reason else None
    response = ev.Response(id=response_id, status=status, output=items, status_details=details)
    return ev.ResponseDone(response=response)


def output_added(call_id: str) -> ev.ConversationItemAdded:
    item = ev.Item(type="function_call_output", call_id=call_id, id=f"out_{call_id}", output="")
    return ev.ConversationItemAdded(item=item)


def user_added(item_id: str = "user_1") -> ev.ConversationItemAdded:
    return ev.ConversationItemAdded(item=ev.Item(type="message", role="user", id=item_id))


def error(code: str, event_id: str | None, message: str = "rejected") -> ev.ErrorEvent:
    detail = ev.ErrorDetail(
        type="invalid_request_error", code=code, message=message, event_id=event_id
    )
    return ev.ErrorEvent(error=detail)


def audio_delta(response_id: str, item_id: str, ms: int) -> ev.ResponseAudioDelta:
    """``ms`` milliseconds of PCM16 24 kHz audio, as base64 (48 bytes per ms)."""
    raw_bytes = ms * 48
    return ev.ResponseAudioDelta(
        response_id=response_id, item_id=item_id, delta="A" * (raw_bytes * 4 // 3)
    )


def speech_started() -> ev.InputAudioBufferSpeechStarted:
    return ev.InputAudioBufferSpeechStarted(audio_start_ms=1000, item_id="item_speech")


def speech_stopped() -> ev.InputAudioBufferSpeechStopped:
    return ev.InputAudioBufferSpeechStopped(audio_end_ms=900, item_id="item_speech")


# -- reading actions -------------------------------------------------------------------------


def sends(actions: list[Action]) -> list[object]:
    return [a.event for a in actions if isinstance(a, Send)]


def creates(actions: list[Action]) -> list[ResponseCreate]:
    return [e for e in sends(actions) if isinstance(e, ResponseCreate)]


def outputs(actions: list[Action]) -> list[str]:
    """The call_ids of the function_call_output items among the sends."""
    return [
        e.item["call_id"]
        for e in sends(actions)
        if isinstance(e, ConversationItemCreate) and e.item.get("type") == "function_call_output"
    ]
