"""ToolContext.report_progress_nowait: progress from a sync tool's worker thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agentkit import Agent, ToolContext, tool
from agentkit.events import ResponseFinished, ToolCallFinished, ToolProgress
from agentkit.testing import Scenario
from tests.dispatch.loopback import live
from tests.support import TIMEOUT


async def test_a_sync_tool_reports_progress_from_its_thread_while_it_runs() -> None:
    release = threading.Event()
    threads: list[str] = []

    @tool
    def export(ctx: ToolContext) -> str:
        """Export the report (blocks its worker thread)."""
        threads.append(threading.current_thread().name)
        ctx.report_progress_nowait("collecting rows")
        ctx.report_progress_nowait("writing the file")
        release.wait(TIMEOUT)
        return "exported"

    scenario = Scenario().on("export").call("export").say("Exported.")
    agent = Agent(instructions="Help.", tools=[export], modality="text")
    async with live(scenario, agent) as t:
        try:
            await t.session.send_text("export the report")
            await t.events.wait_for(ToolProgress, count=2)
            assert not t.events.of(ToolCallFinished)  # told while the tool still blocks
        finally:
            release.set()
        final = await t.events.wait_for(ResponseFinished, lambda e: e.text == "Exported.")
        progress = t.events.of(ToolProgress)
        assert [(p.name, p.message) for p in progress] == [
            ("export", "collecting rows"),
            ("export", "writing the file"),
        ]
        assert threads != [threading.current_thread().name]
        assert t.events.events.index(progress[-1]) < t.events.events.index(final)


async def test_on_the_loop_thread_it_reports_without_awaiting() -> None:
    got: list[str] = []
    both = asyncio.Event()

    async def callback(message: str) -> None:
        got.append(message)
        if len(got) == 2:
            both.set()

    ctx: ToolContext = ToolContext("call_1", "t", progress_callback=callback)
    ctx.report_progress_nowait("one")
    ctx.report_progress_nowait("two")
    assert got == []  # delivered by the loop, not inside the call
    await asyncio.wait_for(both.wait(), TIMEOUT)
    assert got == ["one", "two"]


async def test_a_failing_callback_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    failed = asyncio.Event()

    async def callback(message: str) -> None:
        failed.set()
        raise RuntimeError("the listener broke")

    ToolContext("call_1", "t", progress_callback=callback).report_progress_nowait("x")
    await asyncio.wait_for(failed.wait(), TIMEOUT)  # wakes after the report's task logged
    assert "a progress report failed" in caplog.text


def test_without_a_callback_or_a_loop_it_does_nothing() -> None:
    ToolContext("call_1", "t").report_progress_nowait("nobody listens")

    async def callback(message: str) -> None:
        raise AssertionError("never delivered: no loop")

    # Made outside any loop: there is no loop to deliver to, and no error.
    ToolContext("call_1", "t", progress_callback=callback).report_progress_nowait("x")


def test_after_the_loop_closed_a_report_is_dropped_quietly() -> None:
    async def make() -> ToolContext:
        async def callback(message: str) -> None:
            raise AssertionError("never delivered: the loop is closed")

        return ToolContext("call_1", "t", progress_callback=callback)

    ctx = asyncio.run(make())
    ctx.report_progress_nowait("too late")
