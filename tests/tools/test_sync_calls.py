"""Sync tools: the warm worker hand-off (agentkit._workers) and the ``blocking=False`` opt-in."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time

import pytest

from agentkit import Agent, SessionOptions, ToolContext, _workers, tool
from agentkit._workers import QUICK_WAIT, SyncCalls
from agentkit.errors import ToolDefinitionError
from agentkit.events import (
    AudioDelta,
    ResponseFinished,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
)
from agentkit.testing import Scenario
from tests.dispatch.loopback import live
from tests.support import TIMEOUT

REQUEST = contextvars.ContextVar("REQUEST", default="unset")


def ctx(**changes: object) -> ToolContext:
    return ToolContext(call_id="call_1", tool_name="t", **changes)  # type: ignore[arg-type]


# -- where the function runs ------------------------------------------------------------------


async def test_a_quick_sync_tool_answers_from_a_worker_thread_every_time() -> None:
    @tool
    def where() -> int:
        return threading.get_ident()

    threads = {int((await where.invoke("{}", ctx())).output) for _ in range(20)}
    assert threading.get_ident() not in threads


async def test_blocking_false_runs_the_function_on_the_loop_thread() -> None:
    loop = asyncio.get_running_loop()

    @tool(blocking=False)
    def where() -> bool:
        return asyncio.get_running_loop() is loop

    assert where.blocking is False
    assert (await where.invoke("{}", ctx())).output == "true"


def test_blocking_must_be_a_bool() -> None:
    with pytest.raises(ToolDefinitionError, match="blocking must be True or False"):

        @tool(blocking="no")  # type: ignore[arg-type]
        def quick() -> int:
            return 1


async def test_a_tool_that_turns_slow_holds_the_loop_at_most_the_quick_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wait = TIMEOUT / 10  # long enough that any quick call on a busy machine is answered in it
    monkeypatch.setattr(_workers, "QUICK_WAIT", wait)
    release = threading.Event()
    slow = False

    @tool
    def lookup() -> str:
        if slow:
            release.wait(TIMEOUT)
        return "found"

    for _ in range(3):  # quick calls: a worker is parked and the next call is waited for
        assert (await lookup.invoke("{}", ctx())).output == "found"
    assert lookup._sync_calls.quick
    slow = True
    started = time.monotonic()
    call = asyncio.ensure_future(lookup.invoke("{}", ctx()))
    await asyncio.sleep(0)
    held = time.monotonic() - started
    try:
        assert not call.done()
        assert wait * 0.9 <= held < TIMEOUT / 2  # waited, and gave up long before the tool
        assert not lookup._sync_calls.quick  # the next call is not waited for
    finally:
        release.set()
    assert (await asyncio.wait_for(call, TIMEOUT)).output == "found"
    slow = False
    assert (await lookup.invoke("{}", ctx())).output == "found"
    assert lookup._sync_calls.quick  # quick again: waited for again


async def test_context_variables_reach_the_thread_on_the_quick_and_the_slow_path() -> None:
    release = threading.Event()
    REQUEST.set("req-42")

    def read(wait: bool) -> str:
        if wait:
            release.wait(TIMEOUT)
        return REQUEST.get()

    calls = SyncCalls()
    assert await calls.call(read, (False,), {}) == "req-42"
    slow = asyncio.ensure_future(calls.call(read, (True,), {}))
    await asyncio.sleep(QUICK_WAIT * 5)
    release.set()
    assert await asyncio.wait_for(slow, TIMEOUT) == "req-42"


async def test_exceptions_are_raised_to_the_caller_on_both_paths() -> None:
    release = threading.Event()

    def fail(wait: bool) -> None:
        if wait:
            release.wait(TIMEOUT)
        raise LookupError("no such city")

    calls = SyncCalls()
    with pytest.raises(LookupError, match="no such city"):
        await calls.call(fail, (False,), {})
    slow = asyncio.ensure_future(calls.call(fail, (True,), {}))
    await asyncio.sleep(QUICK_WAIT * 5)
    release.set()
    with pytest.raises(LookupError, match="no such city"):
        await asyncio.wait_for(slow, TIMEOUT)


async def test_a_sync_tool_exception_becomes_an_error_output() -> None:
    @tool
    def broken(city: str) -> str:
        raise ValueError(f"unknown city {city!r}")

    for _ in range(2):  # the first call starts a worker, the second is waited for
        result = await broken.invoke('{"city": "Atlantis"}', ctx())
        error = json.loads(result.output)["error"]
        assert result.error_type == "tool_error"
        assert error["message"] == "broken failed: ValueError: unknown city 'Atlantis'"


async def test_calls_beyond_the_thread_limit_wait_for_a_free_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_workers, "_pool", _workers._Pool())
    monkeypatch.setattr(_workers, "MAX_WORKERS", 2)
    release = threading.Event()
    running: set[int] = set()

    def hold(number: int) -> int:
        running.add(threading.get_ident())
        release.wait(TIMEOUT)
        return number

    calls = SyncCalls()
    pending = [asyncio.ensure_future(calls.call(hold, (n,), {})) for n in range(5)]
    await asyncio.sleep(0.05)
    assert len(running) <= 2 and not any(p.done() for p in pending)
    release.set()
    assert await asyncio.wait_for(asyncio.gather(*pending), TIMEOUT) == [0, 1, 2, 3, 4]
    assert len(running) == 2  # the backlog ran on the same two threads


async def test_idle_workers_end_and_a_later_call_starts_one_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_workers, "_pool", _workers._Pool())
    monkeypatch.setattr(_workers, "IDLE_SECONDS", 0.01)
    calls = SyncCalls()
    first = await calls.call(threading.current_thread, (), {})
    await asyncio.wait_for(asyncio.to_thread(first.join, TIMEOUT), TIMEOUT)
    assert not first.is_alive()
    second = await calls.call(threading.current_thread, (), {})
    assert second is not first and second.name.startswith("agentkit-tool-worker-")


def test_a_call_outliving_its_loop_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop is gone when the function returns: nothing raises in the worker thread (pytest
    turns an exception there into an error)."""
    monkeypatch.setattr(_workers, "_pool", _workers._Pool())
    monkeypatch.setattr(_workers, "IDLE_SECONDS", 0.01)
    release = threading.Event()
    workers: list[threading.Thread] = []

    def slow() -> str:
        workers.append(threading.current_thread())
        release.wait(TIMEOUT)
        return "late"

    async def abandon() -> None:
        call = asyncio.ensure_future(SyncCalls().call(slow, (), {}))
        await asyncio.sleep(0.01)
        call.cancel()

    asyncio.run(abandon())
    release.set()
    (worker,) = workers
    worker.join(TIMEOUT)  # it handed the outcome to the closed loop, idled and ended
    assert not worker.is_alive()


# -- over the simulator -------------------------------------------------------------------------


async def test_a_quick_tool_that_starts_blocking_never_stalls_the_stream() -> None:
    release = threading.Event()
    cities: list[str] = []

    @tool
    def lookup(city: str, ctx: ToolContext) -> str:
        """A lookup, quick at first, then blocked in its thread."""
        cities.append(city)
        ctx.report_progress_nowait(f"looking up {city}")
        if city == "Paris":
            release.wait(TIMEOUT)
        return f"found {city}"

    scenario = (
        Scenario()
        .on("Oslo")
        .call("lookup", city="Oslo")
        .say("Oslo done.")
        .on("Paris")
        .call("lookup", city="Paris")
        .say("Paris done.")
        .on("hello")
        .say("Hello there, while the lookup runs I can still talk to you.")
    )
    agent = Agent(instructions="Help.", tools=[lookup])  # audio
    async with live(scenario, agent) as t:
        try:
            await t.session.send_text("Oslo")
            await t.events.wait_for(ResponseFinished, lambda e: e.text == "Oslo done.")
            await t.session.send_text("Paris")
            started = await t.events.wait_for(ToolCallStarted, count=2)
            await t.events.wait_for(ResponseFinished, count=2)
            await t.session.send_text("hello")
            chat = await t.events.wait_for(ResponseFinished, lambda e: "Hello" in e.text)
            after = t.events.events[t.events.events.index(started) :]
            assert any(isinstance(e, AudioDelta) for e in after)
            assert len(t.events.of(ToolCallFinished)) == 1  # Paris still blocks its thread
        finally:
            release.set()
        finished = await t.events.wait_for(ToolCallFinished, count=2)
        assert finished.output == "found Paris"
        assert t.events.events.index(chat) < t.events.events.index(finished)
        await t.assert_one_output_per_call()


async def test_a_sync_tool_past_its_timeout_is_answered_as_one() -> None:
    release = threading.Event()

    @tool(timeout=0.2)
    def stuck() -> str:
        """Never answers in time."""
        release.wait(TIMEOUT)
        return "too late"

    scenario = Scenario().on("go").call("stuck").say("Gave up.")
    agent = Agent(instructions="Help.", tools=[stuck], modality="text")
    async with live(scenario, agent, options=SessionOptions()) as t:
        try:
            await t.session.send_text("go")
            finished = await t.events.wait_for(ToolCallFinished)
            assert finished.error_type == "timeout"
            output = json.loads(await t.output_for(finished.call_id))
            assert output["error"]["type"] == "timeout"
            await t.events.wait_for(ResponseFinished, lambda e: e.text == "Gave up.")
        finally:
            release.set()


async def test_a_non_blocking_tool_reports_progress_from_the_loop() -> None:
    threads: list[int] = []

    @tool(blocking=False)
    def add(a: int, b: int, ctx: ToolContext) -> int:
        """Add two numbers."""
        threads.append(threading.get_ident())
        ctx.report_progress_nowait("adding")
        return a + b

    scenario = Scenario().on("add").call("add", a=2, b=3).say("Five.")
    agent = Agent(instructions="Help.", tools=[add], modality="text")
    async with live(scenario, agent) as t:
        await t.session.send_text("add 2 and 3")
        finished = await t.events.wait_for(ToolCallFinished)
        assert finished.output == "5"
        await t.events.wait_for(ResponseFinished, lambda e: e.text == "Five.")
        assert threads == [threading.get_ident()]
        (progress,) = t.events.of(ToolProgress)
        assert progress.message == "adding"
