"""The conversation history as the session keeps it, and what a new socket replays from it.

Entries are plain dicts of strings, which CPython's garbage collector does not track, so long
sessions add nothing to its full passes; :class:`HistoryItem` is the immutable view applications
get. Replaying turns entries back into ``conversation.item.create`` events.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypedDict, cast

from agentkit.protocol import events as ev
from agentkit.protocol.client_events import RESUME_ITEM_PREFIX, ConversationItemCreate

__all__ = [
    "Entry",
    "History",
    "HistoryItem",
    "Replay",
    "ReplayPlan",
    "heard_part",
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
    server_label: str | None = None
    approval_request_id: str | None = None
    approved: bool | None = None
    reason: str | None = None
    error: str | None = None
    tools: tuple[str, ...] = ()


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
    server_label: str | None
    approval_request_id: str | None
    approved: bool | None
    reason: str | None
    error: str | None
    tools: tuple[str, ...]


# An entry starts with HistoryItem's defaults; the two cannot drift apart.
_ENTRY_DEFAULTS: dict[str, Any] = {
    item.name: item.default for item in fields(HistoryItem) if item.default is not MISSING
}


def new_entry(item_id: str, item_type: str) -> Entry:
    return cast(Entry, {"item_id": item_id, "type": item_type, **_ENTRY_DEFAULTS})


_AUDIO_PARTS = frozenset(("output_audio", "input_audio"))


class History:
    """The conversation as the session keeps it: entries by item id in the server's order,
    capped by count and by the characters of text, arguments and outputs they hold (the oldest
    go first; the newest stays whatever its size)."""

    __slots__ = ("chars", "entries", "max_chars", "max_items")

    def __init__(self, max_items: int, max_chars: int) -> None:
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.chars = 0
        self.max_items = max_items
        self.max_chars = max_chars

    def record(self, item: ev.Item, after: str | None, response_id: str | None) -> None:
        """What ``item`` says now, placed after ``after`` when the server said so."""
        item_id = item.id
        if not item_id or item_id.startswith(RESUME_ITEM_PREFIX):
            return
        entry = self.entries.get(item_id)
        if entry is None:
            entry = self._new_entry(item_id, item.type, after)
        before = _entry_chars(entry)
        _update_entry(entry, item, response_id)
        self.chars += _entry_chars(entry) - before
        self._trim()

    def set_text(self, item_id: str, text: str) -> None:
        entry = self.entries[item_id]
        self.chars += len(text) - len(entry["text"])
        entry["text"] = text
        self._trim()

    def drop(self, item_id: str) -> None:
        self.chars -= _entry_chars(self.entries.pop(item_id))

    def _new_entry(self, item_id: str, item_type: str, after: str | None) -> Entry:
        entries = self.entries
        last = next(reversed(entries), None) if after is not None else None
        entry = entries[item_id] = new_entry(item_id, item_type)
        if after is not None and after != last and after in entries:
            self._move_after(item_id, after)
        if len(entries) > self.max_items:
            self.drop(next(iter(entries)))  # the oldest; the service truncates too
        return entry

    def _trim(self) -> None:
        entries = self.entries
        while self.chars > self.max_chars and len(entries) > 1:
            self.drop(next(iter(entries)))

    def _move_after(self, item_id: str, after: str) -> None:
        entries = self.entries
        keys = list(entries)
        keys.remove(item_id)
        keys.insert(keys.index(after) + 1, item_id)
        for key in keys[keys.index(item_id) :]:
            entries.move_to_end(key)


def _entry_chars(entry: Entry) -> int:
    return len(entry["text"]) + len(entry["arguments"] or "") + len(entry["output"] or "")


def _update_entry(entry: Entry, item: ev.Item, response_id: str | None) -> None:
    """What the item says now; a field it leaves out keeps what an earlier event said."""
    if item.role:
        entry["role"] = item.role
    if item.call_id:
        entry["call_id"] = item.call_id
    if item.name:
        entry["name"] = item.name
    if item.arguments is not None:
        entry["arguments"] = item.arguments
    if item.output is not None:
        entry["output"] = item.output
    if item.status:
        entry["status"] = item.status
    if response_id:
        entry["response_id"] = response_id
    if item.type[:4] == "mcp_":
        _update_mcp_entry(entry, item)
    content = item.content
    if content:  # function calls and their outputs have none
        text = item.text
        if text:
            entry["text"] = text
        if not entry["has_audio"]:
            entry["has_audio"] = any(part.type in _AUDIO_PARTS for part in content)


def _update_mcp_entry(entry: Entry, item: ev.Item) -> None:
    """The fields of a hosted MCP item (``mcp_call``, ``mcp_list_tools``, approvals)."""
    if item.server_label:
        entry["server_label"] = item.server_label
    if item.approval_request_id:
        entry["approval_request_id"] = item.approval_request_id
    if item.approve is not None:
        entry["approved"] = item.approve
    if item.reason is not None:
        entry["reason"] = item.reason
    if item.error:
        message = item.error.get("message")
        entry["error"] = message if isinstance(message, str) else str(item.error)
    if item.tools:
        entry["tools"] = tuple(str(tool.get("name", "")) for tool in item.tools)


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
    if kind[:4] == "mcp_":
        return _replay_mcp_item(entry)
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


def _replay_mcp_item(entry: Entry) -> dict[str, Any] | None:
    """A hosted MCP item as ``conversation.item.create`` takes it back. A tools list is not
    replayed: the new session lists the server's tools itself."""
    kind, label = entry["type"], entry["server_label"]
    if kind == "mcp_approval_response":
        if not entry["approval_request_id"] or entry["approved"] is None:
            return None
        item: dict[str, Any] = {
            "id": entry["item_id"],
            "type": kind,
            "approval_request_id": entry["approval_request_id"],
            "approve": entry["approved"],
        }
        if entry["reason"]:
            item["reason"] = entry["reason"]
        return item
    if kind not in ("mcp_call", "mcp_approval_request") or not label or not entry["name"]:
        return None
    item = {
        "id": entry["item_id"],
        "type": kind,
        "server_label": label,
        "name": entry["name"],
        "arguments": entry["arguments"] or "",
    }
    if kind == "mcp_call":
        if entry["output"] is not None:
            item["output"] = entry["output"]
        if entry["error"] is not None:
            item["error"] = {"type": "tool_execution_error", "message": entry["error"]}
        if entry["approval_request_id"]:
            item["approval_request_id"] = entry["approval_request_id"]
    return item


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
        kind = item["type"]
        if kind == "function_call":
            self.calls.add(item["call_id"])
        elif kind == "function_call_output":
            self.outputs.add(item["call_id"])
        elif kind == "mcp_approval_request":
            self.calls.add(item["id"])
        elif kind == "mcp_approval_response":
            self.outputs.add(item["approval_request_id"])
        elif kind == "mcp_call" and item.get("approval_request_id") not in self.calls:
            item.pop("approval_request_id", None)  # its request is not in the new conversation
        self.item_ids.add(item["id"])
        self.events.append(ConversationItemCreate(item=item))
        self.restored += 1


def _replay_problem(entry: Entry, item: dict[str, Any] | None, plan: ReplayPlan) -> str | None:
    """Why an item cannot be replayed, or None when it can."""
    if item is None:
        if entry["type"] == "mcp_list_tools":
            return "the new session lists the server's tools again"
        return "malformed" if entry["type"] != "message" or entry["text"] else "no words to restore"
    if item["id"] in plan.item_ids:
        return "a duplicate"
    if item["type"] == "function_call" and item["call_id"] in plan.calls:
        return "a duplicate call"
    if item["type"] == "function_call_output":
        if item["call_id"] not in plan.calls:
            return "an output whose call is not restored"
        if item["call_id"] in plan.outputs:
            return "a second output for its call"
    if item["type"] == "mcp_approval_request" and item["id"] in plan.calls:
        return "a duplicate request"
    if item["type"] == "mcp_approval_response":
        if item["approval_request_id"] not in plan.calls:
            return "an answer whose request is not restored"
        if item["approval_request_id"] in plan.outputs:
            return "a second answer to its request"
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


def lost_output(entry: Entry, lost_response: str | None, regenerated_response: str | None) -> bool:
    """Model output lost with the socket: what the response active at the drop never finished,
    and the words of a response that will be asked for again. Completed calls stay (they run
    exactly once), and so do the items of responses that ended, cut short or cancelled: the
    service keeps those."""
    if entry["type"] == "mcp_call":
        # The service calls the tool itself; a call without its outcome died with the socket.
        response_id = entry["response_id"]
        unfinished = response_id is None or response_id == lost_response
        return unfinished and entry["output"] is None and entry["error"] is None
    if entry["status"] != "completed":
        response_id = entry["response_id"]
        unfinished = response_id is None or response_id == lost_response
        return unfinished and (entry["role"] == "assistant" or entry["type"] == "function_call")
    if regenerated_response is None:
        return False
    return entry["role"] == "assistant" and entry["response_id"] == regenerated_response


def heard_part(text: str, heard: float) -> str:
    """The words of ``text`` a listener heard when its audio was cut at ``heard`` (0..1) of its
    length, cut at a word; what the service keeps of a transcript it truncates."""
    if heard >= 1.0:
        return text
    cut = int(len(text) * max(0.0, heard))
    while cut > 0 and not text[cut - 1].isspace() and cut < len(text) and not text[cut].isspace():
        cut -= 1
    return text[:cut].rstrip()
