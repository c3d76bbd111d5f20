"""One agentkit worker process: it holds conversations, and takes over those of a worker that died.

    REDIS_URL=redis://... python -m examples.scaling.worker NAME SERVICE_URL [--start KEY]

Workers share nothing but Redis. A conversation is driven by the worker holding its lease in
the ``RedisSessionStore``; that worker's ``runner.attach`` renews the lease and saves the
conversation's record after every response. When a worker dies, its leases expire within
``LEASE_TTL`` seconds; each worker looks for conversations without a live lease, and the one
that acquires it loads the record, resumes the conversation in a new session and attaches it
under the same key, so the background results reach it.

The "caller" is simulated here: the worker types the user's words itself.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

import redis.asyncio as aioredis

from agentkit import Endpoint, Session, SessionOptions
from agentkit.background import BackgroundResult, Lease, SessionRecord, resume
from agentkit.background.redis import RedisSessionStore
from agentkit.events import (
    ResponseFinished,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TranscriptDone,
)
from examples.scaling.tasks import REDIS_URL, agent, runner

LEASE_TTL = 3.0
CONVERSATIONS = "example:conversations"  # every conversation started
FINISHED = "example:finished"

ASK = "Build the Q3 sales report"
THANKS = "Thanks, that's all"
options = SessionOptions(speak_progress=False)


class Worker:
    def __init__(self, name: str, service_url: str) -> None:
        self.name = name
        self.endpoint = Endpoint.custom(service_url, credential="test-key")
        self.store = RedisSessionStore(REDIS_URL)
        self.redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.driving: dict[str, asyncio.Task[None]] = {}

    def say(self, text: str) -> None:
        print(f"{self.name}: {text}", flush=True)

    async def start(self, key: str) -> None:
        """A new conversation arrives here (in a real service: a call, a browser)."""
        lease = await self.store.acquire(key, self.name, LEASE_TTL)
        if lease is None:
            raise SystemExit(f"{key} is held by another worker")
        await self.redis.sadd(CONVERSATIONS, key)
        self._drive(key, lease, None)

    async def take_over_orphans(self) -> None:
        """Forever: acquire the lease of any unfinished conversation nobody holds."""
        while True:
            await asyncio.sleep(0.25)
            keys = await self.redis.smembers(CONVERSATIONS)
            finished = await self.redis.smembers(FINISHED)
            for key in sorted(keys - finished - set(self.driving)):
                lease = await self.store.acquire(key, self.name, LEASE_TTL)
                if lease is None:
                    continue  # its worker is alive, or another worker was faster
                record = await self.store.load(key)
                items = len(record.history) if record else 0
                self.say(f"took over {key} (lease token {lease.token}, {items} items saved)")
                self._drive(key, lease, record)

    def _drive(self, key: str, lease: Lease, record: SessionRecord | None) -> None:
        task = asyncio.create_task(self._converse(key, lease, record))
        self.driving[key] = task
        task.add_done_callback(lambda _: self.driving.pop(key, None))

    async def _converse(self, key: str, lease: Lease, record: SessionRecord | None) -> None:
        async with Session(agent, self.endpoint, options=options) as session:
            if record is not None:
                await resume(session, record)  # before attaching: see docs/scaling.md
            self._narrate(session)
            turn_over = asyncio.Event()
            session.on(ResponseFinished, lambda _: turn_over.set())
            async with runner.attach(session, key, store=self.store, lease=lease) as delivery:
                if record is None:
                    self.say(f"user: {ASK}")
                    await session.send_text(ASK)
                while True:
                    await first_of(turn_over.wait(), delivery.lease_lost.wait())
                    turn_over.clear()
                    if delivery.lease_lost.is_set():
                        self.say(f"lost the lease on {key}: another worker drives it now")
                        return
                    said = [i.text for i in session.history if i.type == "message"]
                    if said[-1:] and said[-1].startswith("You're welcome"):
                        break
                    if any(t.startswith("[background task]") for t in said) and THANKS not in said:
                        self.say(f"user: {THANKS}")
                        await session.send_text(THANKS)
                await self.redis.sadd(FINISHED, key)
        await self.store.release(lease)
        self.say(f"finished {key}")

    def _narrate(self, session: Session) -> None:
        session.on(ToolCallStarted, lambda e: self.say(f"-> {e.name}({e.arguments})"))
        session.on(ToolCallFinished, lambda e: self.say(f"<- {e.name}: {e.output[:60]}..."))
        session.on(ToolProgress, lambda e: self.say(f".. {e.name}: {e.message}"))
        session.on(TranscriptDone, lambda e: self.say(f"assistant: {e.text}"))
        session.on(BackgroundResult, self._result_spoken)

    def _result_spoken(self, event: BackgroundResult) -> None:
        self.say(f"the result of {event.call_id} entered the conversation")


async def first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    """Until the first of ``waits`` is done; the others are cancelled."""
    tasks = [asyncio.create_task(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.scaling.worker")
    parser.add_argument("name")
    parser.add_argument("service_url")
    parser.add_argument("--start", metavar="KEY", help="start this conversation here")
    args = parser.parse_args(argv)
    worker = Worker(args.name, args.service_url)
    if args.start:
        await worker.start(args.start)
    worker.say("ready")
    await worker.take_over_orphans()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
