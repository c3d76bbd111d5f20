"""What an attached session keeps in the store on its own: its record after each response,
its usage across a takeover, and the event that tells a background result was spoken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from agentkit import Agent, Endpoint, Session, SessionOptions, ToolResult
from agentkit.background import (
    BackgroundJob,
    BackgroundResult,
    Delivery,
    InMemorySessionStore,
    Lease,
    SessionRecord,
    SessionStore,
    resume,
)
from agentkit.events import Event, ResponseFinished
from agentkit.testing import Scenario, Simulator
from agentkit.usage import TokenPrices
from tests.background.conftest import EXTRA, take_over
from tests.support import TIMEOUT, ask, eventually

pytest.importorskip("celery", reason=EXTRA)

from agentkit.background.redis import RedisSessionStore, RedisUpdates, UpdatePoster

agent = Agent(name="greeter", instructions="Greet.", modality="text", turn_detection=None)
SCENARIO = (
    Scenario()
    .on("hello")
    .say("Hi there.")
    .on("again")
    .say("Welcome back.")
    .on("background task")
    .say("The report is done.")
)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield InMemorySessionStore()
        return
    redis_store = RedisSessionStore(redis_url)
    try:
        yield redis_store
    finally:
        await redis_store.close()


async def saved_texts(store: SessionStore, key: str) -> list[tuple[str, str]]:
    record = await store.load(key)
    assert record is not None
    return [(item["role"], item["text"]) for item in record.history if item["type"] == "message"]


@asynccontextmanager
async def attached(
    store: SessionStore, redis_url: str, lease: Lease
) -> AsyncIterator[tuple[Simulator, Session, Delivery]]:
    """A session on the simulator, attached as "conv" with ``lease`` and autosaving."""
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint) as session:
            source = RedisUpdates(redis_url)
            async with Delivery(session, "conv", source, store=store, lease=lease) as delivery:
                yield sim, session, delivery


async def test_an_attached_session_saves_its_record_after_each_response(
    store: SessionStore, redis_url: str
) -> None:
    lease = await store.acquire("conv", "a", 5)
    assert lease is not None
    async with attached(store, redis_url, lease) as (_, session, delivery):
        await ask(session, "hello")
        await wait_until_saved(store, "conv", ("assistant", "Hi there."))
        await ask(session, "again")
        await wait_until_saved(store, "conv", ("assistant", "Welcome back."))
        assert delivery.records_saved >= 2
    assert await saved_texts(store, "conv") == [
        ("user", "hello"),
        ("assistant", "Hi there."),
        ("user", "again"),
        ("assistant", "Welcome back."),
    ]
    record = await store.load("conv")
    assert record is not None and record.usage["responses"] == 2


async def test_closing_saves_what_came_after_the_last_response(
    store: SessionStore, redis_url: str
) -> None:
    lease = await store.acquire("conv", "a", 5)
    assert lease is not None
    async with attached(store, redis_url, lease) as (sim, session, _):
        await ask(session, "hello")
        await session.send_text("again", respond=False)  # no response: no autosave
        await sim.wait_for("conversation.item.create", count=2)
        await eventually(
            lambda: [i.text for i in session.history][-1:] == ["again"], '"again" in the history'
        )
    assert (await saved_texts(store, "conv"))[-1] == ("user", "again")


async def test_a_stale_owner_saves_nothing_over_the_new_one(
    store: SessionStore, redis_url: str
) -> None:
    stale = await store.acquire("conv", "a", 0.3)
    assert stale is not None
    current = await take_over(store, "conv", "b")  # "a" stalls past its ttl; "b" takes over
    await store.save(SessionRecord("conv", "taken over"), current)
    async with attached(store, redis_url, stale) as (_, session, delivery):
        await ask(session, "hello")
        await asyncio.wait_for(delivery.lease_lost.wait(), TIMEOUT)
    assert delivery.records_saved == 0
    loaded = await store.load("conv")
    assert loaded is not None and loaded.agent_name == "taken over"


async def wait_until_saved(store: SessionStore, key: str, last: tuple[str, str]) -> None:
    async def saved() -> bool:
        return await store.load(key) is not None and (await saved_texts(store, key))[-1:] == [last]

    await eventually(saved, f"{last} to be saved")


async def test_usage_and_cost_carry_over_into_the_resumed_session() -> None:
    prices = TokenPrices(input_text=1.0, cached_input_text=0.5, output_text=2.0)
    options = SessionOptions(prices=prices)
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint, options=options) as first:
            await ask(first, "hello")
            before, cost_before = first.usage, first.cost
        from agentkit.background import record_of

        record = SessionRecord.from_json(record_of(first, "conv").to_json())
        async with Session(agent, endpoint, options=options) as second:
            await resume(second, record)
            assert second.usage == before and second.cost == cost_before
            await ask(second, "again")
            after = second.usage
            cost_after = second.cost
    assert before.responses == 1 and after.responses == 2
    assert after.output_tokens > before.output_tokens > 0
    assert cost_before is not None and cost_after is not None and cost_after > cost_before


async def test_a_spoken_result_is_told_as_an_event(redis_url: str) -> None:
    poster = UpdatePoster(redis_url)
    job = BackgroundJob("conv-e", "call_e", "build_report", "{}")
    seen: list[Event] = []
    try:
        async with Simulator(SCENARIO) as sim:
            endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
            async with Session(agent, endpoint) as session:
                handled: list[BackgroundResult] = []
                session.on(BackgroundResult, handled.append)
                async with Delivery(session, "conv-e", RedisUpdates(redis_url)):
                    assert poster.result(job, ToolResult('{"pages": 3}'))

                    async def until_spoken() -> None:
                        async for event in session:
                            seen.append(event)
                            if isinstance(event, ResponseFinished) and handled:
                                return

                    await asyncio.wait_for(until_spoken(), TIMEOUT * 3)
    finally:
        poster.close()
    (told,) = [e for e in seen if isinstance(e, BackgroundResult)]
    assert handled == [told]
    assert (told.key, told.call_id, told.tool_name) == ("conv-e", "call_e", "build_report")
    assert told.output == '{"pages": 3}' and not told.is_error
    (item,) = [i for i in session.history if i.item_id == told.item_id]
    assert "(call call_e) finished" in item.text
    assert any(isinstance(e, ResponseFinished) and e.text == "The report is done." for e in seen)
