"""The per-call context a tool can ask for by annotating a parameter with :class:`ToolContext`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, get_origin

from typing_extensions import TypeVar

__all__ = ["ProgressCallback", "ToolContext", "is_context_annotation"]

logger = logging.getLogger("agentkit.tools")

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

    A sync tool runs in a worker thread, where it cannot await: it calls
    :meth:`report_progress_nowait` instead.
    """

    call_id: str
    tool_name: str
    deps: DepsT = None  # type: ignore[assignment]  # "no user data" must not force a type
    session: Any = None
    agent: Any = None
    progress_callback: ProgressCallback | None = None
    # The loop the context was made on: where a report from a worker thread is delivered.
    _loop: asyncio.AbstractEventLoop | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_loop", asyncio.get_running_loop())
        except RuntimeError:
            pass  # made outside a loop (a unit test): only report_progress works then

    async def report_progress(self, message: str) -> None:
        """Tell the application (and through it, the model) what a long-running tool is doing.

        Does nothing when no progress callback was set, so tools can call it unconditionally.
        """
        if self.progress_callback is not None:
            await self.progress_callback(message)

    def report_progress_nowait(self, message: str) -> None:
        """:meth:`report_progress` for code that cannot await: a sync tool in its worker thread.

        Safe from any thread. It returns at once; the report is delivered on the session's
        event loop, reports from one thread in the order they were made. Does nothing when no
        progress callback was set or the loop has closed.
        """
        callback, loop = self.progress_callback, self._loop
        if callback is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _deliver(callback, message)
            return
        try:
            loop.call_soon_threadsafe(_deliver, callback, message)
        except RuntimeError:  # the loop closed: the session, and whoever listened, are gone
            logger.debug("progress report dropped: the event loop is closed")


_delivering: set[asyncio.Task[None]] = set()
"""Reports on their way: the loop keeps only weak references to tasks."""


def _deliver(callback: ProgressCallback, message: str) -> None:
    task = asyncio.ensure_future(_report(callback, message))
    _delivering.add(task)
    task.add_done_callback(_delivering.discard)


async def _report(callback: ProgressCallback, message: str) -> None:
    try:
        await callback(message)
    except Exception:  # nobody awaits a nowait report: say what went wrong in the log
        logger.exception("a progress report failed")


def is_context_annotation(annotation: object) -> bool:
    """Whether a parameter annotated this way receives the :class:`ToolContext`."""
    return annotation is ToolContext or get_origin(annotation) is ToolContext
