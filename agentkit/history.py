"""The conversation history as the session keeps it, and what a new socket replays from it.

Entries are plain dicts of strings, which CPython's garbage collector does not track, so long
sessions add nothing to its full passes; :class:`HistoryItem` is the immutable view applications
get. Replaying turns entries back into ``conversation.item.create`` events.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from typing import Any, TypedDict, cast

from agentkit.protocol.client_events import RESUME_ITEM_PREFIX, ConversationItemCreate

__all__ = [
    "Entry",
    "HistoryItem",
    "Replay",
    "lost_output",
    "new_entry",
    "replay_item",
    "resume_note",
]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One conversation item as the session saw it, in the order the server put it."""

    item_id: str
    type: str
    role: str | None = None
    text: str = ""
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    has_audio: bool = False
    truncated: bool = False
    response_id: str | None = None
    status: str | None = None


class Entry(TypedDict):
    """How the state keeps a history item: a plain dict of strings, which the garbage
    collector does not track, so sessions with long histories do not slow its full passes."""

    item_id: str
    type: str
    role: str | None
    text: str
    call_id: str | None
    name: str | None
    arguments: str | None
    output: str | None
    has_audio: bool
    truncated: bool
    response_id: str | None
    status: str | None


# An entry starts with HistoryItem's defaults; the two cannot drift apart.
_ENTRY_DEFAULTS: dict[str, Any] = {
    item.name: item.default for item in fields(HistoryItem) if item.default is not MISSING
}


def new_entry(item_id: str, item_type: str) -> Entry:
    return cast(Entry, {"item_id": item_id, "type": item_type, **_ENTRY_DEFAULTS})


@dataclass(frozen=True, slots=True)
class Replay:
    """What a new socket gets to restore the conversation, and what could not come back."""

    events: tuple[ConversationItemCreate, ...]
    restored: int
    not_restored: tuple[str, ...]


def replay_item(entry: Entry) -> dict[str, Any] | None:
    if entry["type"] == "function_call":
        return {
            "id": entry["item_id"],
            "type": "function_call",
            "call_id": entry["call_id"],
            "name": entry["name"],
            "arguments": entry["arguments"] or "",
        }
    if entry["type"] == "function_call_output":
        return {
            "id": entry["item_id"],
            "type": "function_call_output",
            "call_id": entry["call_id"],
            "output": entry["output"] or "",
        }
    if entry["type"] != "message" or not entry["text"]:
        return None
    part = "output_text" if entry["role"] == "assistant" else "input_text"
    return {
        "id": entry["item_id"],
        "type": "message",
        "role": entry["role"],
        "content": [{"type": part, "text": entry["text"]}],
    }


def resume_note() -> ConversationItemCreate:
    text = (
        "The connection was restored and the conversation above is the same conversation. "
        "Continue from where it stopped; do not greet the user again."
    )
    item_id = RESUME_ITEM_PREFIX + os.urandom(4).hex()
    content = [{"type": "input_text", "text": text}]
    return ConversationItemCreate(
        item={"id": item_id, "type": "message", "role": "system", "content": content}
    )


def lost_output(entry: Entry, regenerated_response: str | None) -> bool:
    """Model output lost with the socket: anything the server never finished, and the words of
    a response that will be asked for again. Completed calls stay: they run exactly once."""
    if entry["status"] != "completed":
        return entry["role"] == "assistant" or entry["type"] == "function_call"
    if regenerated_response is None:
        return False
    return entry["role"] == "assistant" and entry["response_id"] == regenerated_response
