"""What the sans-I/O core decides, as values the session performs, and the call records it keeps.

:class:`~agentkit.state.ConversationState` hands back :data:`Action` values: send this client
event, start this call, cancel those calls, tell the application this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentkit.events import Event as AppEvent
from agentkit.protocol.client_events import ClientEvent
from agentkit.tools import ToolResult

__all__ = ["Action", "Call", "CancelCalls", "Emit", "Send", "StartCall"]


@dataclass(frozen=True, slots=True)
class Send:
    event: ClientEvent


@dataclass(frozen=True, slots=True)
class StartCall:
    call: Call


@dataclass(frozen=True, slots=True)
class CancelCalls:
    call_ids: tuple[str, ...]
    reason: str


class Emit:
    """Tell the application ``make(*args, **fields)``.

    The event is built when it is told, which the session does after writing the replies
    decided with it: building a validated event costs microseconds that a tool round's
    replies should not wait for.
    """

    __slots__ = ("_args", "_fields", "_make")

    def __init__(self, make: Callable[..., AppEvent], *args: Any, **fields: Any) -> None:
        self._make = make
        self._args = args
        self._fields = fields

    @property
    def event(self) -> AppEvent:
        return self._make(*self._args, **self._fields)

    def __repr__(self) -> str:
        return f"Emit({self.event!r})"


Action = Send | StartCall | CancelCalls | Emit


@dataclass(slots=True)
class Call:
    """One function call from the model, and what became of it."""

    call_id: str
    name: str
    arguments: str
    response_id: str | None
    item_id: str | None = None
    result: ToolResult | None = None
    posted: bool = False
    response_done: bool = False
    started_at: float = 0.0
    interrupted: bool = False  # cancelled by barge-in or interrupt(): its round asks nothing
    in_conversation: bool = True  # the current socket's conversation holds its function_call
