"""Worker threads for sync tools: a warm hand-off that never leaves the event loop blocked.

``asyncio.to_thread`` costs a few hundred microseconds per call on a conversation's pace (rounds
milliseconds apart): the default executor's futures, the executor thread waking, then the loop
woken through its self-pipe out of ``epoll``. Here a parked worker is handed the call directly,
and while a function's calls keep finishing within :data:`QUICK_WAIT`, the loop waits that long
for the answer in a blocking lock acquire (which lets the worker have the GIL), so a quick tool
costs no loop wake-up at all. A call still running when the wait ends is answered through the
loop as usual, and the function's next call is not waited for until one is quick again: the loop
is held at most :data:`QUICK_WAIT` per call, and only while the tool has been quick.

The threads are daemons: a tool still blocked when the interpreter exits does not hold it up.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["QUICK_WAIT", "SyncCalls"]

QUICK_WAIT = 0.0002
"""Seconds the loop may wait for a sync tool whose calls have been quick (0.2 ms)."""

MAX_WORKERS = 32
"""Threads running sync tools at once, process-wide; further calls queue for the next one free."""

IDLE_SECONDS = 60.0
"""A worker with nothing to do this long ends; the next call starts one again."""


class _Job:
    """One call of a sync function, and how its outcome gets back to the caller."""

    __slots__ = (
        "args",
        "context",
        "done",
        "error",
        "finished",
        "func",
        "future",
        "kwargs",
        "loop",
        "seconds",
        "submitted",
        "value",
    )

    def __init__(self, func: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> None:
        self.func, self.args, self.kwargs = func, args, kwargs
        self.context = contextvars.copy_context()  # the caller's span, deps...: as to_thread does
        self.done = threading.Lock()
        self.done.acquire()  # released by the worker when the call is over
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.submitted = time.perf_counter()
        self.seconds = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.future: asyncio.Future[None] | None = None

    def run(self, pool: _Pool) -> None:
        try:
            self.value = self.context.run(self.func, *self.args, **self.kwargs)
        except BaseException as exc:  # handed to the caller, who re-raises it
            self.error = exc
        # From the hand-off on, so that a worker slow to get the CPU counts as a slow call too:
        # the quick wait is only worth it when it would have ended with the answer.
        self.seconds = time.perf_counter() - self.submitted
        with pool.lock:
            self.finished = True
            loop, future = self.loop, self.future
        self.done.release()
        if loop is not None and future is not None:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # the loop closed while the call ran: nobody is waiting
                pass

    def outcome(self) -> Any:
        error = self.error
        if error is not None:
            self.error = None  # no cycle through the traceback
            raise error
        return self.value


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # cancelled meanwhile: the call timed out or the session closed
        future.set_result(None)


class _Worker:
    __slots__ = ("job", "wake")

    def __init__(self, job: _Job | None) -> None:
        self.job = job
        self.wake = threading.Lock()
        self.wake.acquire()  # released by whoever hands this worker a job


class _Pool:
    """Threads that park between calls; the most recently parked one takes the next call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._backlog: deque[_Job] = deque()
        self._threads = 0
        self._started = 0

    def submit(self, job: _Job) -> bool:
        """Start ``job``; whether a parked worker took it at once (worth waiting for)."""
        with self.lock:
            if self._idle:
                worker = self._idle.pop()
                worker.job = job
                worker.wake.release()
                return True
            if self._threads >= MAX_WORKERS:
                self._backlog.append(job)
                return False
            self._threads += 1
            self._started += 1
            name = f"agentkit-tool-worker-{self._started}"
        threading.Thread(target=self._serve, args=(_Worker(job),), name=name, daemon=True).start()
        return False

    def _serve(self, worker: _Worker) -> None:
        job = worker.job
        try:
            while job is not None:
                job.run(self)
                job = self._next(worker)
        except BaseException:  # never expected; the count must not keep a dead thread's place
            with self.lock:
                self._threads -= 1
            raise

    def _next(self, worker: _Worker) -> _Job | None:
        """The next job for ``worker``: from the backlog, or handed over while parked; ``None``
        when it idled for :data:`IDLE_SECONDS` and may end."""
        with self.lock:
            if self._backlog:
                return self._backlog.popleft()
            worker.job = None
            self._idle.append(worker)
        if worker.wake.acquire(timeout=IDLE_SECONDS):
            return worker.job
        with self.lock:
            if worker in self._idle:
                self._idle.remove(worker)
                self._threads -= 1
                return None
        worker.wake.acquire()  # taken off the idle list just now: its job is on the way
        return worker.job


_pool = _Pool()


def _fresh_pool_after_fork() -> None:
    global _pool
    _pool = _Pool()  # the parent's threads do not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_pool_after_fork)


class SyncCalls:
    """Runs one sync function's calls on worker threads (one instance per tool).

    It remembers whether the function's last call was answered within :data:`QUICK_WAIT` of
    its hand-off: only then does the next call wait for its answer on the loop.
    """

    __slots__ = ("quick",)

    def __init__(self) -> None:
        self.quick = True

    async def call(self, func: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
        """``func(*args, **kwargs)`` in a worker thread, in a copy of the caller's context.

        Raises what the function raised. Cancelling the caller leaves the function running in
        its thread until it returns (a thread cannot be stopped); its outcome is dropped.
        """
        job = _Job(func, args, kwargs)
        pool = _pool
        if pool.submit(job) and self.quick:
            if job.done.acquire(timeout=QUICK_WAIT):
                return job.outcome()
            self.quick = False  # not again until a call is quick, even if this one never ends
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with pool.lock:
            finished = job.finished
            if not finished:
                job.loop, job.future = loop, future
        if not finished:
            await future
        self.quick = job.seconds <= QUICK_WAIT
        return job.outcome()
