"""The per-call context a tool can ask for by annotating a parameter with :class:`ToolContext`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, get_origin

from typing_extensions import TypeVar

__all__ = ["ProgressCallback", "ToolContext", "is_context_annotation"]

DepsT = TypeVar("DepsT", default=Any)  # bare ``ToolContext`` means ``ToolContext[Any]``

ProgressCallback = Callable[[str], Awaitable[None]]
"""Receives a progress message from a long-running tool (the dispatcher decides what to do)."""


@dataclass(frozen=True)
class ToolContext(Generic[DepsT]):
    """What a tool may know about the call it is serving.

    Annotate a parameter with ``ToolContext`` (or ``ToolContext[MyDeps]`` for typed ``deps``) and
    the dispatcher's context is passed in at call time; the parameter never appears in the schema,
    because the model cannot (and must not) supply it.

    Attributes:
        call_id: the ``call_id`` of the ``function_call`` item being answered.
        tool_name: the name the model called.
        deps: the application's own data (a database handle, the user's id...), ``None`` if unset.
        session: the agentkit session the call arrived on, if any.
        agent: the agent configuration that declared the tool, if any.
        progress_callback: where :meth:`report_progress` sends messages; ``None`` makes it a no-op.
    """

    call_id: str
    tool_name: str
    deps: DepsT = None  # type: ignore[assignment]  # "no user data" must not force a type
    session: Any = None
    agent: Any = None
    progress_callback: ProgressCallback | None = None

    async def report_progress(self, message: str) -> None:
        """Tell the application (and through it, the model) what a long-running tool is doing.

        Does nothing when no progress callback was set, so tools can call it unconditionally.
        """
        if self.progress_callback is not None:
            await self.progress_callback(message)


def is_context_annotation(annotation: object) -> bool:
    """Whether a parameter annotated this way receives the :class:`ToolContext`."""
    return annotation is ToolContext or get_origin(annotation) is ToolContext
