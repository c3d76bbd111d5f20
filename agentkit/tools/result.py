"""What a tool call hands back to the model: :class:`ToolResult` and the error-output format.

Every error output agentkit produces (bad arguments, a tool that raised, and the dispatcher's
timeouts, unknown tools and cancellations) goes through :func:`error_output`, so the model always
sees the same compact shape::

    {"error":{"type":"invalid_arguments","message":"invalid arguments for get_weather: ..."}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pydantic_core

__all__ = ["ToolResult", "error_output", "to_result"]


def error_output(error_type: str, message: str) -> str:
    """Format an error as the ``output`` string of a ``function_call_output`` item.

    Args:
        error_type: a short machine-readable kind, e.g. ``"invalid_arguments"``, ``"tool_error"``,
            ``"timeout"``, ``"unknown_tool"``, ``"cancelled"``.
        message: one short sentence for the model: what went wrong and, ideally, how to fix it.

    Returns:
        Compact JSON ``{"error":{"type":...,"message":...}}``. JSON rather than prose so a model
        can tell an error apart from a normal result that happens to mention one.
    """
    payload = {"error": {"type": error_type, "message": message}}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call, ready to become a ``function_call_output`` item.

    A tool may return a ``ToolResult`` itself to control what is sent, for instance
    ``ToolResult("done", respond=False)`` to ask for no follow-up ``response.create``.

    Attributes:
        output: the string sent as the item's ``output`` (any string; docs/protocol.md,
            "A tool round").
        is_error: whether the call failed; the output then comes from :func:`error_output`.
        error_type: ``"invalid_arguments"`` or ``"tool_error"`` from ``invoke``; the dispatcher
            adds ``"timeout"``, ``"unknown_tool"`` and ``"cancelled"``.
        respond: ``False`` when the tool asks the dispatcher not to send ``response.create``
            after this output (e.g. a "hang up" tool).
    """

    output: str
    is_error: bool = False
    error_type: str | None = None
    respond: bool = True

    @classmethod
    def error(
        cls, message: str, *, error_type: str = "tool_error", respond: bool = True
    ) -> ToolResult:
        """Build an error result whose output has the shared :func:`error_output` shape."""
        return cls(error_output(error_type, message), True, error_type, respond)


def to_result(value: object) -> ToolResult:
    """Turn whatever a tool returned into a :class:`ToolResult`.

    ``str`` is sent as is (text, not a JSON string; a str ``Enum`` as its value), ``None`` as
    an empty output, a ``ToolResult`` unchanged; anything else (pydantic models, dataclasses,
    dicts, lists, numbers, dates, enums...) as compact JSON.

    Raises:
        TypeError: the value has no JSON form; ``invoke`` turns this into a ``tool_error``.
    """
    if isinstance(value, ToolResult):
        return value
    if value is None:
        return ToolResult("")
    if isinstance(value, str):
        return ToolResult(str.__str__(value))
    return ToolResult(_to_json(value))


def _to_json(value: Any) -> str:
    try:
        return pydantic_core.to_json(value).decode()
    except pydantic_core.PydanticSerializationError as exc:
        raise TypeError(f"return value of type {type(value).__name__} has no JSON form") from exc
