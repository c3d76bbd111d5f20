"""Owned background tasks, since Python 3.10 has no ``asyncio.TaskGroup``."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections import deque
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")

if sys.version_info >= (3, 12):

    def _new_task(coro: Coroutine[Any, Any, T], name: str | None, eager: bool) -> asyncio.Task[T]:
        loop = asyncio.get_running_loop()
        return asyncio.Task(coro, loop=loop, name=name, eager_start=eager)

elif sys.version_info >= (3, 11):

    def _new_task(coro: Coroutine[Any, Any, T], name: str | None, eager: bool) -> asyncio.Task[T]:
        loop = asyncio.get_running_loop()
        if not eager:
            return loop.create_task(coro, name=name)
        return _start_eagerly(loop, coro, name)

else:

    def _new_task(coro: Coroutine[Any, Any, T], name: str | None, eager: bool) -> asyncio.Task[T]:
        return asyncio.get_running_loop().create_task(coro, name=name)


_NOTHING: Any = object()


class _Resumed(Coroutine[Any, Any, T]):
    """A coroutine whose first step already ran, as the task that runs the rest of it sees it.

    Python 3.11 has no eager tasks, and a task cannot take over a coroutine that is suspended
    (it would resume it before the awaited future is done). This hands the task what the first
    step yielded, then forwards every ``send`` and ``throw``, so the coroutine sees exactly what
    it would have seen in a task of its own from the start.
    """

    __slots__ = ("_coro", "_error", "_result", "_yielded", "finished")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._yielded: Any = _NOTHING
        self._result: Any = None
        self._error: BaseException | None = None
        self.finished = False

    def first_step(self) -> None:
        try:
            self._yielded = self._coro.send(None)
        except StopIteration as stop:
            self.finished, self._result = True, stop.value
        except BaseException as exc:
            self.finished, self._error = True, exc
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise

    def send(self, value: Any) -> Any:
        if self.finished:
            return self._end()
        yielded = self._yielded
        if yielded is not _NOTHING:
            self._yielded = _NOTHING
            if yielded is not None:
                return yielded  # the future the first step waits for: the task waits for it now
            # A bare yield (``asyncio.sleep(0)``) asked for one loop pass: this is it.
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if self.finished:
            return self._end()  # cancelled after it had already ended: it ended
        pending, self._yielded = self._yielded, _NOTHING
        cancel = getattr(pending, "cancel", None)
        if cancel is not None:
            cancel()  # what cancelling a task does to the future it waits for
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)  # pragma: no cover - asyncio throws one argument

    def close(self) -> None:
        self._coro.close()

    def _end(self) -> Any:
        if self._error is not None:
            raise self._error
        raise StopIteration(self._result)

    def __await__(self) -> Generator[Any, None, T]:
        return self

    def __iter__(self) -> _Resumed[T]:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    # What asyncio reads to show a task (repr, get_stack): the wrapped coroutine's.
    @property
    def __name__(self) -> str:
        return str(getattr(self._coro, "__qualname__", type(self._coro).__name__))

    @property
    def cr_code(self) -> Any:
        return getattr(self._coro, "cr_code", None)

    @property
    def cr_frame(self) -> Any:
        return getattr(self._coro, "cr_frame", None)

    @property
    def cr_running(self) -> bool:
        return bool(getattr(self._coro, "cr_running", False))

    @property
    def cr_await(self) -> Any:
        return getattr(self._coro, "cr_await", None)


def _start_eagerly(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], name: str | None
) -> asyncio.Task[T]:
    """Run ``coro`` at once, up to its first suspension, as Python 3.12's eager tasks do.

    The task exists first and is the current task during that step (``asyncio.timeout`` and
    ``current_task`` inside it behave); the step and the task share one context.
    """
    context = contextvars.copy_context()
    resumed = _Resumed(coro)
    task: asyncio.Task[T] = loop.create_task(resumed, name=name, context=context)  # type: ignore[call-arg]
    outer = asyncio.current_task(loop)
    if outer is not None:
        asyncio.tasks._leave_task(loop, outer)
    asyncio.tasks._enter_task(loop, task)
    try:
        context.run(resumed.first_step)
    finally:
        asyncio.tasks._leave_task(loop, task)
        if outer is not None:
            asyncio.tasks._enter_task(loop, outer)
    return task


def ended(task: asyncio.Task[Any]) -> bool:
    """Done, or (3.11) ran to its end in its eager first step: its task only returns now."""
    if task.done():
        return True
    coro = task.get_coro()
    return type(coro) is _Resumed and coro.finished


__all__ = ["Slots", "TaskOwner", "ended"]


class Slots:
    """At most ``count`` holders at once; the rest wait in arrival order.

    What ``asyncio.Semaphore`` does, with a free slot taken synchronously: its ``acquire`` is a
    coroutine that scans its waiters with a generator, and its ``release`` wakes through
    another method, five Python calls for every tool call on the round trip's critical path.
    A released slot passes straight to the first waiter, so a newcomer cannot overtake it.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take_now(self) -> bool:
        """Take a slot if one is free and nobody waits for it; False otherwise."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting for one if need be."""
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            else:
                self.give()  # handed a slot, then cancelled before using it: pass it on
            raise

    def give(self) -> None:
        """Give a slot back: to the first waiter still waiting, else to the free ones."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


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
        if ended(task):  # an eager task that never suspended
            if task.done():
                self._forget(task)
            elif task.get_coro()._error is not None:  # type: ignore[union-attr]
                task.add_done_callback(self._forget)  # retrieve it once the task holds it
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
