"""Delivery of background updates: fenced by the lease, and refused without an attachment."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest

from agentkit import Endpoint, Session, ToolResult
from agentkit.background import BackgroundJob
from agentkit.events import ToolCallFinished
from agentkit.testing import Scenario, Simulator
from tests.background.conftest import EXTRA, take_over
from tests.support import TIMEOUT, until_idle

pytest.importorskip("celery", reason=EXTRA)

from agentkit.background.redis import RedisSessionStore, UpdatePoster

SPOKEN = "Noted the result."


def scenario() -> Scenario:
    return (
        Scenario()
        .on("report")
        .call("build_report", quarter="Q2")
        .say("Started.")
        .on("background task")
        .say(SPOKEN)
        .otherwise("Hm.")
    )


async def test_only_the_lease_holder_speaks_a_result(bg_app: ModuleType, redis_url: str) -> None:
    store = RedisSessionStore(redis_url)
    poster = UpdatePoster(redis_url)
    job = BackgroundJob("conv-5", "call_x", "build_report", "{}")
    try:
        old = await store.acquire("conv-5", "a", 0.3)
        assert old is not None
        new = await take_over(store, "conv-5", "b")  # while "a" was stalled past its ttl
        async with Simulator(scenario()) as sim:
            endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
            async with (
                Session(bg_app.agent, endpoint) as stale,
                bg_app.runner.attach(stale, "conv-5", store=store, lease=old) as stale_delivery,
                Session(bg_app.agent, endpoint) as owner,
                bg_app.runner.attach(owner, "conv-5", store=store, lease=new) as delivery,
            ):
                assert poster.result(job, ToolResult('{"pages": 3}'))
                assert not poster.result(job, ToolResult('{"pages": 4}'))  # once per call
                await until_said(owner)
                await asyncio.wait_for(stale_delivery.lease_lost.wait(), TIMEOUT)
                assert not delivery.lease_lost.is_set()
        spoken = [i.text for i in owner.history if i.text.startswith("[background task]")]
        assert len(spoken) == 1 and '{"pages": 3}' in spoken[0]
        assert not [i for i in stale.history if i.text.startswith("[background task]")]
    finally:
        poster.close()
        await store.close()


async def test_an_attached_session_keeps_its_lease_alive(
    bg_app: ModuleType, redis_url: str
) -> None:
    store = RedisSessionStore(redis_url)
    try:
        # A ttl long enough that a renewal due every third of it survives a loaded CI machine
        # (at 0.3 s a 0.2 s stall of the event loop lost the lease on Python 3.10).
        ttl = 1.0
        lease = await store.acquire("conv-6", "a", ttl)
        assert lease is not None
        async with Simulator(scenario()) as sim:
            endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
            async with (
                Session(bg_app.agent, endpoint) as session,
                bg_app.runner.attach(session, "conv-6", store=store, lease=lease),
            ):
                for _ in range(4):  # four ttls, and still the owner
                    await asyncio.sleep(ttl)
                    assert await store.acquire("conv-6", "b", 5) is None
        assert (await take_over(store, "conv-6", "b")).token == lease.token + 1
    finally:
        await store.close()


async def until_said(session: Session) -> None:
    async def said() -> None:
        async for event in session:
            if getattr(event, "text", None) == SPOKEN:
                return

    await asyncio.wait_for(said(), TIMEOUT * 3)


async def test_a_background_tool_needs_an_attached_session(bg_app: ModuleType) -> None:
    async with Simulator(scenario()) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(bg_app.agent, endpoint) as session:
            await session.send_text("Build the report")
            events = await until_idle(session)
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.is_error
    assert "runner.attach(session, key)" in finished.output


async def test_a_result_can_arrive_as_a_system_message(bg_app: ModuleType, redis_url: str) -> None:
    from agentkit.background import Delivery
    from agentkit.background.redis import RedisUpdates

    poster = UpdatePoster(redis_url)
    job = BackgroundJob("conv-8", "call_s", "build_report", "{}")
    try:
        async with Simulator(scenario()) as sim:
            endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
            async with Session(bg_app.agent, endpoint) as session:
                source = RedisUpdates(redis_url)
                async with Delivery(session, "conv-8", source, role="system"):
                    poster.result(job, ToolResult("failed", is_error=True))
                    await until_idle_after_response(session)
    finally:
        poster.close()
    (item,) = [i for i in session.history if i.text.startswith("[background task]")]
    assert item.role == "system"
    assert "build_report (call call_s) failed: failed" in item.text


async def until_idle_after_response(session: Session) -> None:
    from agentkit.events import ResponseFinished

    async def done() -> None:
        async for event in session:
            if isinstance(event, ResponseFinished) and session.idle:
                return

    await asyncio.wait_for(done(), TIMEOUT * 3)
