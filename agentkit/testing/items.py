"""Checks on client-created conversation items, in the service's error vocabulary (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentkit.testing.dialect import GA, Dialect

__all__ = ["ItemError", "check_item"]

_CONTENT_TYPES = {
    "user": {"input_text", "input_audio", "input_image"},
    "system": {"input_text"},
}


@dataclass(frozen=True)
class ItemError:
    """Why ``conversation.item.create`` was refused."""

    code: str
    param: str
    message: str


def check_item(item: object, dialect: Dialect) -> ItemError | None:
    """``None`` when ``item`` may be added; the conversation checks ids and ``call_id`` links."""
    if not isinstance(item, Mapping):
        return ItemError(
            "missing_required_parameter", "item", "Missing required parameter: 'item'."
        )
    kind = item.get("type")
    if kind == "message":
        return _check_message(item, dialect)
    if kind == "function_call":
        return _require(item, ("call_id", "name", "arguments"))
    if kind == "function_call_output":
        return _require(item, ("call_id", "output"))
    return ItemError(
        "invalid_value",
        "item.type",
        f"Invalid value: {kind!r}. Supported values are: 'message', 'function_call', "
        "'function_call_output'.",
    )


def _require(item: Mapping[str, Any], names: tuple[str, ...]) -> ItemError | None:
    for name in names:
        if not isinstance(item.get(name), str):
            return ItemError(
                "missing_required_parameter",
                f"item.{name}",
                f"Missing required parameter: 'item.{name}'.",
            )
    return None


def _check_message(item: Mapping[str, Any], dialect: Dialect) -> ItemError | None:
    role = item.get("role")
    assistant_part = "output_text" if dialect == GA else "text"
    allowed = _CONTENT_TYPES.get(str(role), {assistant_part} if role == "assistant" else None)
    if allowed is None:
        return ItemError(
            "invalid_value", "item.role", f"Invalid value: {role!r}. Supported values are: "
            "'user', 'assistant', 'system'."
        )  # fmt: skip
    content = item.get("content")
    if not isinstance(content, list):
        return ItemError(
            "missing_required_parameter",
            "item.content",
            "Missing required parameter: 'item.content'.",
        )
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if not isinstance(kind, str) or kind not in allowed:
            return ItemError(
                "invalid_value",
                f"item.content[{index}].type",
                f"Invalid value: {kind!r}. Supported values for a {role} message are: "
                f"{', '.join(repr(a) for a in sorted(allowed))}.",
            )
    return None
