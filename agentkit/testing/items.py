"""Checks on client-created conversation items, in the service's error vocabulary (pure)."""

from __future__ import annotations

import base64
import binascii
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


def check_item(item: object, dialect: Dialect, *, model: str | None = None) -> ItemError | None:
    """``None`` when ``item`` may be added; the conversation checks ids and ``call_id`` links.

    ``model`` names the session's model when it takes no images; ``None``: it takes them.
    """
    if not isinstance(item, Mapping):
        return ItemError(
            "missing_required_parameter", "item", "Missing required parameter: 'item'."
        )
    kind = item.get("type")
    if kind == "message":
        return _check_message(item, dialect, model)
    if kind == "function_call":
        return _require(item, ("call_id", "name", "arguments"))
    if kind == "function_call_output":
        return _require(item, ("call_id", "output"))
    if kind in _MCP_REQUIRED:
        return _check_mcp(item, kind)
    return ItemError(
        "invalid_value",
        "item.type",
        f"Invalid value: {kind!r}. Supported values are: 'message', 'function_call', "
        "'function_call_output', 'mcp_call', 'mcp_list_tools', 'mcp_approval_request', "
        "'mcp_approval_response'.",
    )


# The hosted MCP items a client may add (the SDK's RealtimeMcp*Param), by their string fields.
_MCP_REQUIRED = {
    "mcp_call": ("id", "server_label", "name", "arguments"),
    "mcp_list_tools": ("server_label",),
    "mcp_approval_request": ("id", "server_label", "name", "arguments"),
    "mcp_approval_response": ("id", "approval_request_id"),
}


def _check_mcp(item: Mapping[str, Any], kind: str) -> ItemError | None:
    problem = _require(item, _MCP_REQUIRED[kind])
    if problem is not None:
        return problem
    if kind == "mcp_approval_response" and not isinstance(item.get("approve"), bool):
        return ItemError(
            "missing_required_parameter",
            "item.approve",
            "Missing required parameter: 'item.approve'.",
        )
    if kind == "mcp_list_tools" and not isinstance(item.get("tools"), list):
        return ItemError(
            "missing_required_parameter", "item.tools", "Missing required parameter: 'item.tools'."
        )
    return None


def _require(item: Mapping[str, Any], names: tuple[str, ...]) -> ItemError | None:
    for name in names:
        if not isinstance(item.get(name), str):
            return ItemError(
                "missing_required_parameter",
                f"item.{name}",
                f"Missing required parameter: 'item.{name}'.",
            )
    return None


def _check_message(
    item: Mapping[str, Any], dialect: Dialect, no_images_model: str | None
) -> ItemError | None:
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
        if kind == "input_image":
            problem = _check_image(part, f"item.content[{index}]", no_images_model)
            if problem is not None:
                return problem
    return None


_DETAILS = ("auto", "low", "high")
_IMAGE_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,")


def _check_image(
    part: Mapping[str, Any], where: str, no_images_model: str | None
) -> ItemError | None:
    """An ``input_image`` part as the GA protocol has it: ``image_url``, a base64 PNG or JPEG
    data URI, and an optional ``detail``; refused outright by a model without image input."""
    if no_images_model is not None:
        message = (
            f"Invalid value: 'input_image'. The model {no_images_model!r} does not support "
            "image input."
        )
        return ItemError("invalid_value", f"{where}.type", message)
    url = part.get("image_url")
    if not isinstance(url, str):
        message = f"Missing required parameter: '{where}.image_url'."
        return ItemError("missing_required_parameter", f"{where}.image_url", message)
    prefix = next((p for p in _IMAGE_PREFIXES if url.startswith(p)), None)
    if prefix is None or not _is_base64(url[len(prefix) :]):
        message = (
            f"Invalid value for '{where}.image_url': expected a base64 data URI of a PNG or "
            "JPEG image (data:image/png;base64,...)."
        )
        return ItemError("invalid_value", f"{where}.image_url", message)
    detail = part.get("detail")
    if detail is not None and detail not in _DETAILS:
        message = f"Invalid value: {detail!r}. Supported values are: 'auto', 'low', and 'high'."
        return ItemError("invalid_value", f"{where}.detail", message)
    return None


def _is_base64(text: str) -> bool:
    try:
        return bool(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return False
