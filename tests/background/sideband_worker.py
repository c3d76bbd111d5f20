"""One agentkit worker process of the sideband takeover test: it drives a phone or WebRTC call
through its sideband, under a lease, and takes the call over when its worker died.

    python -m tests.background.sideband_worker NAME REDIS_URL SIMULATOR_URL CALL_ID [--hang]

The session's key is the call's ``call_id``. The worker waits for the lease (counting each
refusal in ``sb:refused``), then loads the record: without one it starts driving the call,
with one it takes the call over as docs/scaling.md shows (a new sideband on the record's
``call_id``, ``resume``, then the delivery with autosave under the lease). With ``--hang``
its tool never returns (the worker is killed while the call is in flight).

What the test reads in Redis: ``sb:attached:{NAME}`` (the lease token once attached),
``sb:runs`` (``NAME:call_id`` of every tool run), ``sb:usage:{NAME}`` (the session's usage
when it stopped); ``sb:stop:{NAME}`` (pushed by the test) stops the worker cleanly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import redis.asyncio as aioredis

from agentkit import Agent, Endpoint, ToolContext, tool
from agentkit.background import Delivery, resume
from agentkit.background.redis import RedisSessionStore, RedisUpdates
from agentkit.calls import SidebandSession

LEASE_TTL = 2.0
CREDENTIAL = "sk-sideband-takeover-test"

logger = logging.getLogger("sideband-worker")


def order_agent(name: str, redis: aioredis.Redis, hang: bool) -> Agent:
    @tool
    async def order_status(ctx: ToolContext[Any], order_id: str) -> str:
        """Where an order is."""
        await redis.rpush("sb:runs", f"{name}:{ctx.call_id}")
        if hang:
            await asyncio.Event().wait()  # in flight until the process is killed
        return f"order {order_id} shipped"

    return Agent(name="orders", instructions="Help callers with orders.", tools=[order_status])


async def main(name: str, url: str, simulator_url: str, call_id: str, hang: bool) -> None:
    redis = aioredis.Redis.from_url(url, decode_responses=True)
    store = RedisSessionStore(url)
    endpoint = Endpoint.custom(simulator_url, credential=CREDENTIAL)
    try:
        while (lease := await store.acquire(call_id, name, LEASE_TTL)) is None:
            await redis.hincrby("sb:refused", name, 1)
            await asyncio.sleep(0.1)
        record = await store.load(call_id)
        agent = order_agent(name, redis, hang)
        # Taking over: the record names the call; its conversation stays at the service.
        target = record.call_id if record is not None and record.call_id else call_id
        async with SidebandSession(target, agent, endpoint) as session:
            if record is not None:
                await resume(session, record)  # no replay on a sideband of the same call
            delivery = Delivery(session, call_id, RedisUpdates(url), store=store, lease=lease)
            async with delivery:
                logger.info("%s drives %s (lease token %d)", name, call_id, lease.token)
                await redis.set(f"sb:attached:{name}", lease.token)
                while not delivery.lease_lost.is_set():
                    if await redis.blpop([f"sb:stop:{name}"], timeout=0.5) is not None:
                        break
            await redis.set(f"sb:usage:{name}", json.dumps(session.usage.model_dump()))
        await store.release(lease)
    finally:
        await store.close()
        await redis.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    arguments = sys.argv[1:]
    hang = "--hang" in arguments
    name, url, simulator_url, call_id = [a for a in arguments if a != "--hang"]
    asyncio.run(main(name, url, simulator_url, call_id, hang))
