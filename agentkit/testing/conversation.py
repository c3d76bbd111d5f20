"""The default conversation: an ordered list of items with ids, as the service keeps it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["Conversation", "public_item"]


class Conversation:
    """Items in order; ``previous_item_id`` places an item (``None``: append, ``"root"``: first)."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self.items: list[dict[str, Any]] = []
        self.audio_ms: dict[str, int] = {}
        """Milliseconds of assistant audio streamed per item (what truncation may cut)."""

    def get(self, item_id: str) -> dict[str, Any] | None:
        """The stored item (mutable: responses fill it in as they stream)."""
        return next((item for item in self.items if item.get("id") == item_id), None)

    def has(self, item_id: str) -> bool:
        """Whether an item with this id exists."""
        return self.get(item_id) is not None

    def insert(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id``; return the id actually preceding it.

        The caller has checked that ``previous_item_id`` exists (see :meth:`has`).
        """
        if previous_item_id is None:
            index = len(self.items)
        elif previous_item_id == "root":
            index = 0
        else:
            index = self.items.index(self.get(previous_item_id)) + 1  # type: ignore[arg-type]
        self.items.insert(index, item)
        return self.items[index - 1]["id"] if index > 0 else None

    def delete(self, item_id: str) -> bool:
        """Remove an item; ``False`` when there was none."""
        item = self.get(item_id)
        if item is None:
            return False
        self.items.remove(item)
        return True

    def function_call(self, call_id: str) -> dict[str, Any] | None:
        """The ``function_call`` item with this ``call_id``, if the conversation holds one."""
        return next(
            (
                i
                for i in self.items
                if i.get("type") == "function_call" and i.get("call_id") == call_id
            ),
            None,
        )


def public_item(item: Mapping[str, Any], *, with_audio: bool = False) -> dict[str, Any]:
    """A copy of an item as server events show it: audio bytes only when asked for."""
    shown = copy.deepcopy(dict(item))
    if not with_audio:
        for part in shown.get("content") or []:
            part.pop("audio", None)
    return shown
