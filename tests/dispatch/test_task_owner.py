"""TaskOwner's eager start: a tool call runs at once, up to its first suspension, and from
there on behaves exactly as a task started the usual way (3.12 does this natively; 3.11 through
agentkit's resumption; 3.10 starts tasks the usual way)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import sys

import pytest

from agentkit._tasks import TaskOwner, ended

EAGER = sys.version_info >= (3, 11)
eager_only = pytest.mark.skipif(not EAGER, reason="Python 3.10 starts every task in a loop pass")

variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")


@eager_only
async def test_a_coroutine_that_never_suspends_is_done_before_start_returns() -> None:
    owner, steps = TaskOwner(), []

    async def work() -> str:
        steps.append("ran")
        return "result"

    task = owner.start(work(), eager=True)
    assert steps == ["ran"] and ended(task)
    assert len(owner) == 0  # nothing left to own or cancel
    assert await task == "result"


async def test_without_eager_the_coroutine_waits_for_the_loop() -> None:
    owner, steps = TaskOwner(), []

    async def work() -> None:
        steps.append("ran")

    task = owner.start(work())
    assert steps == [] and not ended(task) and len(owner) == 1
    await task
    assert steps == ["ran"]


@eager_only
async def test_the_first_step_runs_as_the_task_with_its_own_context() -> None:
    seen: list[object] = []

    async def work() -> str:
        seen.append(asyncio.current_task())
        variable.set("inside")
        async with asyncio.timeout(10):  # needs the current task
            await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return variable.get()

    outer = asyncio.current_task()
    task = TaskOwner().start(work(), eager=True)
    assert seen == [task]
    assert asyncio.current_task() is outer  # handed back
    assert variable.get() == "unset"  # the step's context is the task's, not ours
    assert await task == "inside"
    assert seen == [task, task]


@eager_only
async def test_a_started_coroutine_waits_for_its_future_inside_the_task() -> None:
    owner = TaskOwner()
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def work() -> int:
        return await future + 1

    task = owner.start(work(), eager=True)
    assert not ended(task) and len(owner) == 1
    await asyncio.sleep(0)
    assert not task.done()
    future.set_result(41)
    assert await task == 42
    await asyncio.sleep(0)
    assert len(owner) == 0


@eager_only
async def test_cancelled_before_its_task_first_ran_the_coroutine_sees_the_cancellation() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[str] = []

    async def work() -> str:
        try:
            await future
        except asyncio.CancelledError:
            caught.append("cancelled")
            return "answered anyway"
        return "not cancelled"

    task = TaskOwner().start(work(), eager=True)
    task.cancel()  # the task has not had a step of its own yet
    assert await task == "answered anyway"
    assert caught == ["cancelled"]
    assert future.cancelled()  # as cancelling a task cancels what it waits for


@eager_only
async def test_cancelling_a_task_whose_coroutine_already_ended_keeps_its_result() -> None:
    async def work() -> str:
        return "done"

    task = TaskOwner().start(work(), eager=True)
    task.cancel()
    assert await task == "done"


@eager_only
async def test_an_error_in_the_first_step_ends_the_task_with_it_and_is_retrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def work() -> None:
        raise ValueError("broken tool")

    owner = TaskOwner()
    task = owner.start(work(), eager=True)
    assert ended(task) and len(owner) == 0
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert task.done() and isinstance(task.exception(), ValueError)
    del task
    gc.collect()
    assert "never retrieved" not in caplog.text


@eager_only
async def test_a_bare_yield_in_the_first_step_resumes_on_the_next_pass() -> None:
    steps: list[int] = []

    async def work() -> None:
        steps.append(1)
        await asyncio.sleep(0)
        steps.append(2)

    task = TaskOwner().start(work(), eager=True)
    assert steps == [1]
    await asyncio.sleep(0)  # the one pass the bare yield asked for, as on 3.12
    assert steps == [1, 2]
    await task


@eager_only
async def test_started_from_another_task_that_task_is_current_again() -> None:
    inner_saw: list[object] = []

    async def inner() -> None:
        inner_saw.append(asyncio.current_task())

    async def outer() -> object:
        TaskOwner().start(inner(), eager=True)
        return asyncio.current_task()

    outer_task = asyncio.get_running_loop().create_task(outer())
    assert await outer_task is outer_task
    assert inner_saw and inner_saw[0] is not outer_task


async def test_cancel_all_cancels_a_started_coroutine_waiting_on_a_future() -> None:
    owner = TaskOwner()
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    outcome: list[str] = []

    async def work() -> None:
        try:
            await future
        finally:
            outcome.append("cleaned up")

    task = owner.start(work(), eager=True)
    await owner.cancel_all()
    assert task.cancelled() and len(owner) == 0
    assert outcome == (["cleaned up"] if EAGER else [])  # 3.10: cancelled before it started


async def test_a_task_shows_the_coroutine_it_runs() -> None:
    """What asyncio shows of a task (repr, stack) names the coroutine, eagerly started or not."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def lookup_weather() -> None:
        await future

    task = TaskOwner().start(lookup_weather(), name="agentkit-tool-lookup", eager=True)
    assert "lookup_weather() running at" in repr(task)
    (frame,) = task.get_stack()
    assert frame.f_code.co_name == "lookup_weather"
    future.set_result(None)
    await task
    assert "lookup_weather() done" in repr(task)


# -- the eager start behaves like a task started the usual way, in every shape ------------------


Trace = list[str]
Gate = asyncio.Future[int]


async def _returns(trace: Trace, gate: Gate) -> object:
    return "value"


async def _raises(trace: Trace, gate: Gate) -> object:
    raise ValueError("at once")


async def _waits(trace: Trace, gate: Gate) -> object:
    trace.append(f"got {await gate}")
    return "after"


async def _waits_then_raises(trace: Trace, gate: Gate) -> object:
    await gate
    raise KeyError("later")


async def _yields_bare(trace: Trace, gate: Gate) -> object:
    for n in range(3):
        await asyncio.sleep(0)
        trace.append(f"pass {n}")
    return "passed"


async def _swallows_cancel(trace: Trace, gate: Gate) -> object:
    try:
        await gate
    except asyncio.CancelledError:
        trace.append("cancelled")
        return "answered"
    return "not cancelled"


async def _times_out(trace: Trace, gate: Gate) -> object:
    try:
        async with asyncio.timeout(0):
            await gate
    except TimeoutError:
        trace.append("timed out")
        return "late"
    return "on time"


async def _awaits_a_task(trace: Trace, gate: Gate) -> object:
    async def inner() -> int:
        return await gate * 2

    return await asyncio.get_running_loop().create_task(inner())


async def _nested(trace: Trace, gate: Gate) -> object:
    async def middle() -> int:
        trace.append("middle")
        return await gate + 1

    return await middle()


SCENARIOS = {
    "returns": _returns,
    "raises": _raises,
    "waits": _waits,
    "waits_then_raises": _waits_then_raises,
    "yields_bare": _yields_bare,
    "swallows_cancel": _swallows_cancel,
    "times_out": _times_out,
    "awaits_a_task": _awaits_a_task,
    "nested": _nested,
}


async def _scenario(kind: str, trace: Trace, gate: Gate) -> object:
    trace.append("start")
    return await SCENARIOS[kind](trace, gate)


async def _outcome(kind: str, eager: bool, cancel_at: int | None) -> tuple[list[str], str]:
    """Run one scenario; cancel its task after ``cancel_at`` loop passes (None: never)."""
    trace: list[str] = []
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = TaskOwner().start(_scenario(kind, trace, gate), eager=eager)
    for passes in range(6):
        if cancel_at == passes:
            task.cancel()
        if passes == 2 and not gate.done():
            gate.set_result(20)
        await asyncio.sleep(0)
    try:
        result = await asyncio.wait_for(task, 1)
    except asyncio.CancelledError:
        return trace, "cancelled"
    except Exception as exc:  # the outcome is what is compared
        return trace, f"{type(exc).__name__}: {exc}"
    return trace, f"result {result!r}"


@eager_only
@pytest.mark.parametrize("cancel_at", [None, 0, 1, 3])
@pytest.mark.parametrize("kind", SCENARIOS)
async def test_eager_and_usual_starts_end_alike(kind: str, cancel_at: int | None) -> None:
    """The same steps and the same outcome, cancelled or not; only a coroutine that had already
    ended when the cancellation came keeps its result (its task had not run a step yet)."""
    if kind == "yields_bare" and cancel_at:
        pytest.skip("an eager start is a loop pass ahead: a cancel by pass count lands later")
    eager = await _outcome(kind, True, cancel_at)
    usual = await _outcome(kind, False, cancel_at)
    if cancel_at == 0 and usual == ([], "cancelled"):  # cancelled before it ever started
        assert eager[0][:1] == ["start"]
        return
    assert eager == usual
