"""Approval of tool calls: the application decides before a function that acts on the world runs.

A session given ``SessionOptions(approve=hook)`` calls ``hook(request)`` for every call whose
arguments are valid JSON-wise and whose tool exists; the hook answers :meth:`Approval.allow` or
:meth:`Approval.deny` (or simply ``True``/``False``), synchronously or as a coroutine. A denied
call is still answered: the model gets a ``denied`` error output with the reason.

The same hook decides the service's ``mcp_approval_request`` for a hosted MCP tool (see
:mod:`agentkit.hosted_mcp`): then ``server_label`` is set and ``call_id`` is the request's id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Approval", "ApprovalHook", "ToolCallRequest"]


@dataclass(frozen=True)
class ToolCallRequest:
    """What the model asked for, as the approval hook sees it.

    Attributes:
        call_id: the ``call_id`` of the function call.
        name: the tool's name.
        arguments: the raw JSON arguments, exactly as the model sent them.
        session: the session the call arrived on.
        server_label: for a hosted MCP tool (the service would run it), the server's label;
            ``None`` for the agent's own tools.
    """

    call_id: str
    name: str
    arguments: str
    session: Any = None
    server_label: str | None = None

    @property
    def hosted(self) -> bool:
        """Whether the service, not agentkit, would run the call (a hosted MCP tool)."""
        return self.server_label is not None


@dataclass(frozen=True)
class Approval:
    """The hook's decision; ``reason`` is what the model is told when a call is denied."""

    allowed: bool
    reason: str = ""

    @classmethod
    def allow(cls) -> Approval:
        return cls(True)

    @classmethod
    def deny(cls, reason: str = "the application did not allow this call") -> Approval:
        return cls(False, reason)


ApprovalHook = Callable[[ToolCallRequest], "Approval | bool | Awaitable[Approval | bool]"]
"""Decides whether a call may run; may be sync or async."""


def as_approval(decision: Approval | bool) -> Approval:
    """Normalise a hook's answer (``True``/``False`` are allowed as shorthands)."""
    if isinstance(decision, Approval):
        return decision
    return Approval.allow() if decision else Approval.deny()
