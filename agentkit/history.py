"""The conversation history as the session keeps it, and what a new socket replays from it.

Entries are plain dicts of strings, which CPython's garbage collector does not track, so long
sessions add nothing to its full passes; :class:`HistoryItem` is the immutable view applications
get. Replaying turns entries back into ``conversation.item.create`` events.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypedDict, cast

from agentkit.protocol.client_events import RESUME_ITEM_PREFIX, ConversationItemCreate

__all__ = [
    "Entry",
    "HistoryItem",
    "Replay",
    "ReplayPlan",
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


_ROLES = frozenset(("user", "assistant", "system"))


def replay_item(entry: Entry) -> dict[str, Any] | None:
    """The ``conversation.item.create`` item that restores ``entry``, or None when it cannot
    come back valid: a message with no words (audio only) or a role the protocol does not have,
    a call without its name or id, an output without its call id."""
    kind = entry["type"]
    if kind == "function_call":
        if not entry["call_id"] or not entry["name"]:
            return None
        return {
            "id": entry["item_id"],
            "type": "function_call",
            "call_id": entry["call_id"],
            "name": entry["name"],
            "arguments": entry["arguments"] or "",
        }
    if kind == "function_call_output":
        if not entry["call_id"]:
            return None
        return {
            "id": entry["item_id"],
            "type": "function_call_output",
            "call_id": entry["call_id"],
            "output": entry["output"] or "",
        }
    if kind != "message" or not entry["text"] or entry["role"] not in _ROLES:
        return None
    part = "output_text" if entry["role"] == "assistant" else "input_text"
    return {
        "id": entry["item_id"],
        "type": "message",
        "role": entry["role"],
        "content": [{"type": part, "text": entry["text"]}],
    }


@dataclass(slots=True)
class ReplayPlan:
    """The items a replay sends, and what it keeps track of to send each one validly, once."""

    events: list[ConversationItemCreate] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)
    item_ids: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)
    restored: int = 0

    def add(self, entry: Entry) -> None:
        item = replay_item(entry)
        problem = _replay_problem(entry, item, self)
        if problem is not None:
            kind = entry["role"] or entry["type"]
            self.not_restored.append(f"{kind} item {entry['item_id']} ({problem})")
            return
        assert item is not None
        if item["type"] == "function_call":
            self.calls.add(item["call_id"])
        elif item["type"] == "function_call_output":
            self.outputs.add(item["call_id"])
        self.item_ids.add(item["id"])
        self.events.append(ConversationItemCreate(item=item))
        self.restored += 1


def _replay_problem(entry: Entry, item: dict[str, Any] | None, plan: ReplayPlan) -> str | None:
    """Why an item cannot be replayed, or None when it can."""
    if item is None:
        return (
            "malformed" if entry["type"] != "message" or entry["text"] else "audio, no transcript"
        )
    if item["id"] in plan.item_ids:
        return "a duplicate"
    if item["type"] == "function_call" and item["call_id"] in plan.calls:
        return "a duplicate call"
    if item["type"] == "function_call_output":
        if item["call_id"] not in plan.calls:
            return "an output whose call is not restored"
        if item["call_id"] in plan.outputs:
            return "a second output for its call"
    return None


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
