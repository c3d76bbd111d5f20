"""One worker process of the browser relay test: a WebSocket server a browser reaches at
``/ws?conversation=ID``, which finds the conversation by its id whichever worker had it.

    python -m tests.background.relay_worker NAME REDIS_URL SIMULATOR_URL

It follows the recipe of docs/scaling.md: take the conversation's lease when it is free,
resume its record if there is one, relay until the browser leaves, save and let the lease
go. The browser sends ``{"text": ...}``; the worker sends ``ready`` (its name, the lease
token, how many items it replayed) and one ``answer`` per finished response (its text and
how many responses the session's usage counts). The worker's port is ``relay:port:{NAME}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agentkit import Agent, Endpoint, Session
from agentkit.background import Delivery, acquire_when_free, resume
from agentkit.background.redis import RedisSessionStore, RedisUpdates
from agentkit.events import ResponseFinished

LEASE_TTL = 2.0
CREDENTIAL = "sk-relay-takeover-test"

agent = Agent(
    name="assistant",
    instructions="You remember what the user told you.",
    modality="text",
    turn_detection=None,
)
logger = logging.getLogger("relay-worker")


class RelayWorker:
    def __init__(self, name: str, url: str, simulator_url: str) -> None:
        self.name = name
        self.url = url
        self.store = RedisSessionStore(url)
        self.endpoint = Endpoint.custom(simulator_url, credential=CREDENTIAL)

    async def handle(self, browser: ServerConnection) -> None:
        assert browser.request is not None
        conversation = parse_qs(urlsplit(browser.request.path).query)["conversation"][0]
        lease = await acquire_when_free(
            self.store, conversation, self.name, LEASE_TTL, timeout=LEASE_TTL * 3
        )
        if lease is None:
            await browser.close(1013, "the conversation is busy elsewhere")
            return
        try:
            record = await self.store.load(conversation)
            async with Session(agent, self.endpoint) as session:
                replayed = await resume(session, record) if record is not None else 0
                source = RedisUpdates(self.url)
                async with Delivery(session, conversation, source, store=self.store, lease=lease):
                    ready = {"type": "ready", "worker": self.name, "token": lease.token}
                    await browser.send(json.dumps({**ready, "replayed": replayed}))
                    answers = asyncio.create_task(self.answer(session, browser))
                    try:
                        async for frame in browser:
                            await session.send_text(json.loads(frame)["text"])
                    except ConnectionClosed:
                        pass
                    finally:
                        answers.cancel()
                        await asyncio.gather(answers, return_exceptions=True)
        finally:
            await self.store.release(lease)  # the next worker need not wait for the ttl
            logger.info("%s let %s go", self.name, conversation)

    async def answer(self, session: Session, browser: ServerConnection) -> None:
        async for event in session:
            if isinstance(event, ResponseFinished):
                answer = {"type": "answer", "text": event.text}
                await browser.send(json.dumps({**answer, "responses": session.usage.responses}))


async def main(name: str, url: str, simulator_url: str) -> None:
    worker = RelayWorker(name, url, simulator_url)
    redis = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        async with serve(worker.handle, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            await redis.set(f"relay:port:{name}", port)
            await server.serve_forever()
    finally:
        await redis.aclose()
        await worker.store.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    asyncio.run(main(*sys.argv[1:4]))
