"""The session store: in memory and in a real redis-server, through one set of tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agentkit import Endpoint, Session
from agentkit.background import (
    InMemorySessionStore,
    LeaseLostError,
    SessionRecord,
    SessionStore,
    acquire_when_free,
    record_of,
)
from agentkit.testing import Scenario, Simulator
from tests.background.conftest import take_over
from tests.support import TIMEOUT, ask

TTL = 0.3  # a lease short enough to expire within a test


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield InMemorySessionStore()
        return
    url = request.getfixturevalue("redis_url")
    from agentkit.background.redis import RedisSessionStore

    redis_store = RedisSessionStore(url)
    try:
        yield redis_store
    finally:
        await redis_store.close()


async def expire(store: SessionStore, key: str, owner: str) -> None:
    """Wait until ``key``'s lease can be taken by ``owner``; release it again."""
    await store.release(await take_over(store, key, owner, TTL))


async def test_one_lease_at_a_time_and_each_token_larger(store: SessionStore) -> None:
    first = await store.acquire("conv", "a", TTL)
    assert first is not None
    assert await store.acquire("conv", "b", TTL) is None
    assert await store.acquire("other", "b", TTL) is not None  # leases are per key
    await store.release(first)
    second = await store.acquire("conv", "b", TTL)
    assert second is not None and second.token > first.token


async def test_the_holder_of_a_session_is_known_while_its_lease_lives(
    store: SessionStore,
) -> None:
    assert await store.holder("conv") is None
    lease = await store.acquire("conv", "worker:a", TTL)
    assert lease is not None
    assert await store.holder("conv") == "worker:a"  # an owner may hold a colon
    await expire(store, "conv", "probe")
    assert await store.holder("conv") is None
    second = await store.acquire("conv", "b", 5)
    assert second is not None and await store.holder("conv") == "b"
    await store.release(second)
    assert await store.holder("conv") is None


async def test_a_record_round_trips_under_its_lease(store: SessionStore) -> None:
    assert await store.load("conv") is None
    lease = await store.acquire("conv", "a", 5)
    assert lease is not None
    record = SessionRecord(
        key="conv",
        agent_name="reports",
        config={"instructions": "Be brief."},
        history=[{"item_id": "i1", "type": "message", "role": "user", "text": "héllo"}],
        calls_in_flight={"call_1": {"tool": "build_report", "arguments": '{"quarter":"Q3"}'}},
        usage={"input_tokens": 12},
    )
    await store.save(record, lease)
    assert await store.load("conv") == record
    await store.delete("conv", lease)
    assert await store.load("conv") is None


async def test_an_expired_lease_is_fenced_off(store: SessionStore) -> None:
    stale = await store.acquire("conv", "a", TTL)
    assert stale is not None
    await store.save(SessionRecord("conv", "first"), stale)
    await expire(store, "conv", "probe")
    current = await store.acquire("conv", "b", 5)
    assert current is not None
    await store.save(SessionRecord("conv", "second"), current)
    with pytest.raises(LeaseLostError):
        await store.save(SessionRecord("conv", "stale write"), stale)
    with pytest.raises(LeaseLostError):
        await store.renew(stale)
    with pytest.raises(LeaseLostError):
        await store.delete("conv", stale)
    await store.release(stale)  # a stale release does not free the current lease
    assert await store.acquire("conv", "c", 5) is None
    loaded = await store.load("conv")
    assert loaded is not None and loaded.agent_name == "second"


async def test_renewing_keeps_a_lease_past_its_ttl(store: SessionStore) -> None:
    lease = await store.acquire("conv", "a", TTL)
    assert lease is not None
    for _ in range(4):
        await asyncio.sleep(TTL / 3)
        lease = await store.renew(lease)
    assert await store.acquire("conv", "b", TTL) is None
    await store.save(SessionRecord("conv", "still mine"), lease)


async def test_a_lease_for_one_key_cannot_write_another(store: SessionStore) -> None:
    lease = await store.acquire("conv", "a", 5)
    assert lease is not None
    with pytest.raises(LeaseLostError):
        await store.save(SessionRecord("another", "x"), lease)


async def test_a_bad_ttl_is_refused(store: SessionStore) -> None:
    for ttl in (0, -1, True):
        with pytest.raises(ValueError, match="positive number of seconds"):
            await store.acquire("conv", "a", ttl)


async def test_a_live_session_snapshot_survives_the_store(store: SessionStore) -> None:
    from agentkit import Agent

    agent = Agent(name="greeter", instructions="Greet.", modality="text", turn_detection=None)
    async with Simulator(Scenario().on("hello").say("Hi there.")) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint) as session:
            await ask(session, "hello")
            record = record_of(session, "conv")
    lease = await store.acquire("conv", "a", 5)
    assert lease is not None
    await store.save(record, lease)
    loaded = await store.load("conv")
    assert loaded == record
    assert loaded.agent_name == "greeter"
    assert loaded.config["instructions"] == "Greet."
    assert [(item["role"], item["text"]) for item in loaded.history] == [
        ("user", "hello"),
        ("assistant", "Hi there."),
    ]
    assert loaded.usage["responses"] == 1
    assert loaded.calls_in_flight == {}


async def test_a_saved_conversation_resumes_in_a_new_session(store: SessionStore) -> None:
    from agentkit import Agent
    from agentkit.background import resume

    agent = Agent(name="greeter", instructions="Greet.", modality="text", turn_detection=None)
    scenario = Scenario().on("hello").say("Hi there.").on("again").say("Welcome back.")
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint) as first:
            await ask(first, "hello")
            lease = await store.acquire("conv", "a", 5)
            assert lease is not None
            await store.save(record_of(first, "conv"), lease)
        record = await store.load("conv")
        assert record is not None
        lost_call = {"item_id": "item_lost", "type": "function_call", "call_id": "call_lost"}
        record.history.append({**lost_call, "name": "build_report", "arguments": "{}"})
        async with Session(agent, endpoint) as second:
            assert await resume(second, record) == 2
            await ask(second, "again")
    texts = [(item.role, item.text) for item in second.history if item.type == "message"]
    assert texts[:2] == [("user", "hello"), ("assistant", "Hi there.")]
    assert texts[-2:] == [("user", "again"), ("assistant", "Welcome back.")]
    (note,) = [text for role, text in texts if role == "system"]
    assert "build_report (call call_lost)" in note
    assert not [item for item in second.history if item.call_id == "call_lost"]


async def test_a_redis_store_serves_more_commands_at_once_than_it_has_connections(
    redis_url: str,
) -> None:
    from agentkit.background.redis import RedisSessionStore

    for store in (RedisSessionStore(redis_url), RedisSessionStore(redis_url, max_connections=4)):
        try:
            keys = [f"conv-{n}" for n in range(300)]  # a worker's sessions renewing together
            taken = await asyncio.gather(*(store.acquire(key, "a", 5) for key in keys))
            leases = [lease for lease in taken if lease is not None]
            assert len(leases) == len(keys)
            records = [SessionRecord(lease.key, "x") for lease in leases]
            await asyncio.gather(
                *(store.save(r, lease) for r, lease in zip(records, leases, strict=True))
            )
            loaded = await asyncio.gather(*(store.load(key) for key in keys))
            assert [record.key for record in loaded if record] == keys
            await asyncio.gather(*(store.delete(lease.key, lease) for lease in leases))
            await asyncio.gather(*(store.release(lease) for lease in leases))
        finally:
            await store.close()


async def test_a_record_masks_a_hosted_mcp_servers_credentials(store: SessionStore) -> None:
    """The store is shared by every worker: a credential in the agent's configuration (a hosted
    MCP server's headers) is saved as its mask; the worker taking over has its own agent."""
    from agentkit import Agent, HostedMCP

    server = HostedMCP("notes", "http://127.0.0.1:9/mcp", headers={"X-Token": "canary-store-31"})
    agent = Agent(name="notes", instructions="Take notes.", tools=[server], modality="text")
    async with Simulator(Scenario().on("hello").say("Hi.")) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint) as session:
            record = record_of(session, "conv")
    lease = await store.acquire("conv", "a", 5)
    assert lease is not None
    await store.save(record, lease)
    loaded = await store.load("conv")
    assert loaded is not None and "canary-store-31" not in loaded.to_json()
    (tool,) = [t for t in loaded.config["tools"] if t.get("type") == "mcp"]
    assert tool["headers"] == {"X-Token": "***"} and tool["server_label"] == "notes"


async def test_acquire_when_free_waits_for_a_release_or_gives_up(store: SessionStore) -> None:
    held = await store.acquire("conv", "a", TIMEOUT * 2)
    assert held is not None
    assert await acquire_when_free(store, "conv", "b", TTL, timeout=0.2) is None
    assert await store.holder("conv") == "a"

    async def let_go() -> None:
        await asyncio.sleep(0.1)
        await store.release(held)

    releasing = asyncio.create_task(let_go())
    taken = await acquire_when_free(store, "conv", "b", TTL, timeout=TIMEOUT)
    await releasing
    assert taken is not None and taken.owner == "b" and taken.token == held.token + 1
