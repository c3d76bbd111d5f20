"""Background tools on real Celery workers with a real redis-server, over the simulator."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from types import ModuleType

import pytest

from agentkit import Endpoint, Session
from agentkit.background import BackgroundJob, InMemorySessionStore
from agentkit.events import Event, ToolCallFinished, ToolProgress, TranscriptDone
from agentkit.testing import Scenario, Simulator
from tests.background.conftest import EXTRA, Worker, take_over
from tests.support import TIMEOUT, until_event, until_idle

pytest.importorskip("celery", reason=EXTRA)
redis = pytest.importorskip("redis", reason=EXTRA)

READY = "The Q3 report is ready."
UNDER_WAY = "It is under way; I will tell you when it is ready."


def scenario(seconds: float = 1.0) -> Scenario:
    return (
        Scenario()
        .on("report")
        .say("Starting the report.")
        .call("build_report", quarter="Q3", seconds=seconds)
        .say(UNDER_WAY)
        .on(re.compile(r"^\[background task\] build_report"))
        .say(READY)
        .otherwise("I build reports.")
    )


async def until_said(session: Session, text: str, timeout: float) -> list[Event]:
    """Every event until the assistant says ``text``."""
    seen: list[Event] = []

    async def collect() -> None:
        async for event in session:
            seen.append(event)
            if isinstance(event, TranscriptDone) and event.text == text:
                return

    await asyncio.wait_for(collect(), timeout)
    return seen


def result_messages(session: Session) -> list[str]:
    return [
        item.text
        for item in session.history
        if item.role == "user" and item.text.startswith("[background task]")
    ]


def stream_results(url: str, key: str) -> list[dict[bytes, bytes]]:
    client = redis.Redis.from_url(url)
    try:
        entries = client.xrange(f"agentkit:bg:{key}:updates")
    finally:
        client.close()
    return [fields for _, fields in entries if fields[b"kind"] == b"result"]


def runs(url: str, call_id: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.get(f"test:runs:{call_id}") or 0)
    finally:
        client.close()


async def test_the_model_is_told_at_once_and_the_result_is_spoken_later(
    bg_app: ModuleType, workers: Callable[[str], Worker], redis_url: str
) -> None:
    workers("w1")
    async with Simulator(scenario()) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with (
            Session(bg_app.agent, endpoint) as session,
            bg_app.runner.attach(session, "conv-1"),
        ):
            await session.send_text("Build the Q3 report")
            events = await until_said(session, READY, TIMEOUT * 3)
            await until_idle(session)
    (ack,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert json.loads(ack.output)["status"] == "started"
    spoken = [e.text for e in events if isinstance(e, TranscriptDone)]
    assert spoken.index(UNDER_WAY) < spoken.index(READY)  # told at once, the result later
    progress = [e for e in events if isinstance(e, ToolProgress)]
    assert [p.message for p in progress] == ["collecting the Q3 figures"]
    assert progress[0].call_id == ack.call_id
    (message,) = result_messages(session)
    assert f"build_report (call {ack.call_id}) finished" in message
    assert '"revenue_eur":1250000' in message
    assert len(stream_results(redis_url, "conv-1")) == 1


async def test_a_worker_killed_mid_task_loses_nothing_and_posts_once(
    bg_app: ModuleType, workers: Callable[[str], Worker], redis_url: str
) -> None:
    doomed = workers("doomed")
    async with Simulator(scenario(seconds=2.0)) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with (
            Session(bg_app.agent, endpoint) as session,
            bg_app.runner.attach(session, "conv-2"),
        ):
            await session.send_text("Build the Q3 report")
            seen = await until_event(session, ToolProgress)  # the job is running on "doomed"
            doomed.kill()  # mid-task: no acknowledgement, no warm shutdown
            call_id = seen[-1].call_id
            assert runs(redis_url, call_id) == 1
            workers("rescuer")  # takes the job over once the visibility timeout passes
            seen += await until_said(session, READY, TIMEOUT * 4)
            await until_idle(session)
    (ack,) = [e for e in seen if isinstance(e, ToolCallFinished)]
    assert ack.call_id == call_id
    assert runs(redis_url, call_id) == 2  # run again after the kill...
    assert len(result_messages(session)) == 1  # ...and its result spoken once
    assert len(stream_results(redis_url, "conv-2")) == 1


async def test_a_job_delivered_twice_runs_and_posts_once(
    bg_app: ModuleType, workers: Callable[[str], Worker], redis_url: str
) -> None:
    worker = workers("w1")
    job = BackgroundJob("conv-3", "call_twice", "build_report", '{"quarter": "Q1", "seconds": 0}')
    bg_app.runner.submit(job)
    bg_app.runner.submit(job)  # as a broker may after a lost acknowledgement
    for _ in range(int(TIMEOUT * 4 / 0.05)):
        if worker.log_text().count(" succeeded in ") == 2:
            break
        await asyncio.sleep(0.05)
    outcomes = re.findall(r" succeeded in [\d.]+s: '(\w+)'", worker.log_text())
    assert outcomes == ["posted", "duplicate"]
    assert len(stream_results(redis_url, "conv-3")) == 1
    assert runs(redis_url, "call_twice") == 1


async def test_a_result_that_outlives_its_session_is_spoken_in_the_one_that_took_over(
    bg_app: ModuleType, workers: Callable[[str], Worker], redis_url: str
) -> None:
    workers("w1")
    store = InMemorySessionStore()
    async with Simulator(scenario(seconds=1.5)) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        first_lease = await store.acquire("conv-4", "process-a", ttl=0.5)
        assert first_lease is not None
        async with (
            Session(bg_app.agent, endpoint) as gone,
            bg_app.runner.attach(gone, "conv-4", store=store, lease=first_lease),
        ):
            await gone.send_text("Build the Q3 report")
            seen = await until_event(gone, ToolCallFinished)  # acknowledged; then A is gone
        (ack,) = [e for e in seen if isinstance(e, ToolCallFinished)]
        # Process A is gone without releasing its lease; B takes over once it expires.
        assert await store.acquire("conv-4", "process-b", ttl=5) is None
        lease = await take_over(store, "conv-4", "process-b")
        assert lease.token == first_lease.token + 1
        async with (
            Session(bg_app.agent, endpoint) as resumed,
            bg_app.runner.attach(resumed, "conv-4", store=store, lease=lease),
        ):
            await until_said(resumed, READY, TIMEOUT * 3)
            await until_idle(resumed)
    (message,) = result_messages(resumed)
    assert f"(call {ack.call_id}) finished" in message
    assert not result_messages(gone)
    calls = [item.call_id for item in resumed.history if item.type == "function_call_output"]
    assert calls == []  # never posted as an output of the old connection's call


async def test_a_tool_that_fails_on_the_worker_is_reported_as_failed(
    bg_app: ModuleType, workers: Callable[[str], Worker], redis_url: str
) -> None:
    workers("w1")
    bg_app.runner.submit(BackgroundJob("conv-7", "call_bad", "broken_report", '{"quarter": "Q4"}'))
    bg_app.runner.submit(BackgroundJob("conv-7", "call_unknown", "no_such_tool", "{}"))
    for _ in range(int(TIMEOUT * 4 / 0.05)):
        if len(stream_results(redis_url, "conv-7")) == 2:
            break
        await asyncio.sleep(0.05)
    bad, unknown = stream_results(redis_url, "conv-7")
    assert bad[b"is_error"] == b"1" and unknown[b"is_error"] == b"1"
    assert b"RuntimeError: the Q4 data source is down" in bad[b"text"]
    assert b"no background tool named 'no_such_tool'" in unknown[b"text"]
