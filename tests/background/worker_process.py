"""One agentkit worker process of the multi-process test: it holds sessions and takes over
those whose worker died.

    python -m tests.background.worker_process NAME SIMULATOR_URL

Redis (``AGENTKIT_TEST_REDIS_URL``) is the only thing the workers share:

- ``mp:assign:{NAME}``: keys of conversations this worker starts (a list it pops);
- ``mp:sessions``: every conversation started; ``mp:done``: those finished;
- the store's leases and records (``agentkit:lease:{key}``, ``agentkit:session:{key}``):
  a conversation whose lease is free and which is not done is taken over by whichever
  worker acquires its lease first, from its last record;
- counters the test reads: ``mp:drivers`` (key -> workers that drove it, in order),
  ``mp:told`` (key -> ``BackgroundResult`` events told), ``mp:resumed`` (key -> items
  replayed on takeover).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import redis.asyncio as aioredis

from agentkit import Agent, Endpoint, Session, SessionOptions
from agentkit.background import BackgroundResult, Lease, SessionRecord, resume
from agentkit.background.redis import RedisSessionStore
from agentkit.events import ResponseFinished
from tests.background.app import URL, long_report, runner

LEASE_TTL = 3.0
SCAN_EVERY = 0.2

ASK = "Build the {quarter} report"
UNDER_WAY = "It is under way; I will tell you when it is ready."
READY = "The report is ready."
THANKS = "Thanks"
WELCOME = "You are welcome."

agent = Agent(
    name="reports",
    instructions="You build long reports in the background.",
    tools=[long_report],
    modality="text",
    turn_detection=None,
)
# A progress report is not spoken: a job run twice reports twice, and the test compares
# conversations word for word with a run where no job ran twice.
options = SessionOptions(speak_progress=False)

logger = logging.getLogger("worker")


def quarter_of(key: str) -> str:
    return f"Q{int(key.rsplit('-', 1)[1]) % 4 + 1}"


def said(session: Session, role: str, text: str) -> bool:
    return any(item.role == role and item.text == text for item in session.history)


class Worker:
    def __init__(self, name: str, simulator_url: str) -> None:
        self.name = name
        self.endpoint = Endpoint.custom(simulator_url, credential="test-key")
        self.redis = aioredis.Redis.from_url(URL, decode_responses=True)
        self.store = RedisSessionStore(URL)
        self.driving: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        await asyncio.gather(self._take_assigned(), self._take_over_orphans())

    async def _take_assigned(self) -> None:
        while True:
            popped = await self.redis.blpop([f"mp:assign:{self.name}"], timeout=1)
            if popped is None:
                continue
            key = popped[1]
            lease = await self.store.acquire(key, self.name, LEASE_TTL)
            if lease is None:
                logger.error("%s: %s is held elsewhere", self.name, key)
                continue
            await self.redis.sadd("mp:sessions", key)
            self._drive(key, lease, None)

    async def _take_over_orphans(self) -> None:
        while True:
            await asyncio.sleep(SCAN_EVERY)
            keys = await self.redis.smembers("mp:sessions")
            done = await self.redis.smembers("mp:done")
            for key in sorted(keys - done - set(self.driving)):
                lease = await self.store.acquire(key, self.name, LEASE_TTL)
                if lease is None:
                    continue  # its worker is alive, or another took it first
                if await self.redis.sismember("mp:done", key):
                    await self.store.release(lease)
                    continue
                record = await self.store.load(key)
                logger.info("%s takes over %s (lease token %d)", self.name, key, lease.token)
                self._drive(key, lease, record)

    def _drive(self, key: str, lease: Lease, record: SessionRecord | None) -> None:
        task = asyncio.create_task(self._converse(key, lease, record))
        self.driving[key] = task
        task.add_done_callback(lambda _: self.driving.pop(key, None))

    async def _converse(self, key: str, lease: Lease, record: SessionRecord | None) -> None:
        await self.redis.rpush(f"mp:drivers:{key}", self.name)
        try:
            async with Session(agent, self.endpoint, options=options) as session:
                if record is not None and record.history:
                    replayed = await resume(session, record)  # before attaching: see scaling.md
                    await self.redis.hset("mp:resumed", key, replayed)
                turn_over = asyncio.Event()
                session.on(ResponseFinished, lambda _: turn_over.set())

                async def told(_: BackgroundResult) -> None:
                    await self.redis.hincrby("mp:told", key, 1)

                session.on(BackgroundResult, told)
                delivery = runner.attach(session, key, store=self.store, lease=lease)
                async with delivery:
                    if record is None or not record.history:
                        await session.send_text(ASK.format(quarter=quarter_of(key)))
                    while not said(session, "assistant", WELCOME):
                        if said(session, "assistant", READY) and not said(session, "user", THANKS):
                            await session.send_text(THANKS)
                        lost = asyncio.create_task(delivery.lease_lost.wait())
                        turn = asyncio.create_task(turn_over.wait())
                        await asyncio.wait({lost, turn}, return_when=asyncio.FIRST_COMPLETED)
                        lost.cancel()
                        turn.cancel()
                        turn_over.clear()
                        if delivery.lease_lost.is_set():
                            logger.error("%s lost the lease on %s", self.name, key)
                            return
                    await delivery.save()
                    await self.redis.sadd("mp:done", key)
            await self.store.release(lease)
            logger.info("%s finished %s", self.name, key)
        except Exception:
            logger.exception("%s failed on %s", self.name, key)


async def main(name: str, simulator_url: str) -> None:
    worker = Worker(name, simulator_url)
    await worker.redis.sadd("mp:workers", f"{name}:{os.getpid()}")
    await worker.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
