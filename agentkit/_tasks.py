"""Owned background tasks, since Python 3.10 has no ``asyncio.TaskGroup``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

if sys.version_info >= (3, 12):

    def _new_task(coro: Coroutine[Any, Any, T], name: str | None, eager: bool) -> asyncio.Task[T]:
        loop = asyncio.get_running_loop()
        return asyncio.Task(coro, loop=loop, name=name, eager_start=eager)

else:

    def _new_task(coro: Coroutine[Any, Any, T], name: str | None, eager: bool) -> asyncio.Task[T]:
        return asyncio.get_running_loop().create_task(coro, name=name)


__all__ = ["TaskOwner"]


class TaskOwner:
    """Keeps a strong reference to every task it starts and cancels them all on close.

    Exceptions of finished tasks are retrieved, so none is reported as "never retrieved";
    agentkit's tasks handle their own errors, so nothing is lost here.
    """

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], None] = {}  # a set, in a third of the bytes

    def start(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str | None = None,
        eager: bool = False,
        removes_itself: bool = False,
    ) -> asyncio.Task[T]:
        """Start ``coro`` as an owned task.

        ``eager`` runs it at once, up to its first suspension, where Python supports that safely
        (3.12+: the task is already current, so ``asyncio.timeout`` inside it behaves); a fast
        tool then finishes without a trip round the event loop. ``removes_itself`` promises
        that ``coro`` hands its task to :meth:`remove` as it ends, which saves the done
        callback (a loop callback per task) for tasks started once per tool call.
        """
        task = _new_task(coro, name, eager)
        if task.done():  # an eager task that never suspended
            self._forget(task)
            return task
        self._tasks[task] = None
        if not removes_itself:
            task.add_done_callback(self._forget)
        return task

    def remove(self, task: asyncio.Task[Any] | None) -> None:
        """Stop owning ``task``: it is about to end and handles its own errors."""
        self._tasks.pop(task, None)  # type: ignore[arg-type]

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled():
            task.exception()

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every task and wait until all have finished."""
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_all(self) -> None:
        """Wait for the current tasks to finish on their own."""
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
