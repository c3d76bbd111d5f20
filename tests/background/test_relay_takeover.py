"""A browser relay reconnects to any worker and finds its session: the browser talks to worker
1, leaves (or worker 1 is killed with SIGKILL), reconnects to worker 2 with its conversation
id, and worker 2 resumes the conversation from its record.

Real parts: a redis-server, two worker processes (``tests/background/relay_worker.py``, each
a WebSocket server), this test's WebSocket client as the browser, and the simulator in this
process as the service.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from agentkit.background import SessionRecord
from agentkit.testing import Scenario, Simulator
from tests.background.conftest import EXTRA, ScriptProcess, until
from tests.support import TIMEOUT

redis = pytest.importorskip("redis", reason=EXTRA)

from agentkit.background.redis import RedisSessionStore  # noqa: E402
from tests.background.relay_worker import CREDENTIAL  # noqa: E402

INTRODUCTION = "My name is Ada"
GREETING = "Nice to meet you."
QUESTION = "What is my name?"
ANSWER = "You told me: Ada."


def worker(log: Path, *args: str) -> ScriptProcess:
    return ScriptProcess("tests.background.relay_worker", log, *args)


async def receive(browser: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(browser.recv(), TIMEOUT * 3))
        if message["type"] == kind:
            return dict(message)


def scenario() -> Scenario:
    return Scenario().on("name is").say(GREETING).on("my name?").say(ANSWER).scenario


@pytest.mark.parametrize("leaving", ["browser_left", "worker_killed"])
async def test_a_browser_reconnecting_to_another_worker_finds_its_conversation(
    leaving: str, redis_url: str, tmp_path: Path, started: list[ScriptProcess]
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisSessionStore(redis_url)
    conversation = f"conv-{secrets.token_urlsafe(12)}"  # unguessable: it finds the session
    try:
        async with Simulator(scenario(), api_key=CREDENTIAL) as sim:
            for name in ("W1", "W2"):
                log = tmp_path / f"{name}.log"
                started.append(worker(log, name, redis_url, sim.openai_url()))
            ports = {}
            for name in ("W1", "W2"):
                key = f"relay:port:{name}"
                port = await until(partial(client.get, key), f"{name} to listen", started)
                ports[name] = f"ws://127.0.0.1:{port}/ws?conversation={conversation}"

            async with connect(ports["W1"]) as browser:
                first = await receive(browser, "ready")
                assert (first["worker"], first["replayed"]) == ("W1", 0)
                await browser.send(json.dumps({"text": INTRODUCTION}))
                assert (await receive(browser, "answer"))["text"] == GREETING

                def saved() -> bool:
                    text = client.get(f"agentkit:session:{conversation}")
                    return bool(text) and any(
                        i["text"] == GREETING for i in SessionRecord.from_json(text).history
                    )

                await until(saved, "W1's record after the answer", started)
                if leaving == "worker_killed":
                    started[0].process.send_signal(signal.SIGKILL)
                    with pytest.raises(ConnectionClosed):
                        await receive(browser, "never")
            if leaving == "browser_left":
                # W1 saw the browser go: it saved and let the lease go
                await until(
                    lambda: client.get(f"agentkit:lease:{conversation}") is None,
                    "W1 to release the lease",
                    started,
                )

            async with connect(ports["W2"]) as browser:
                second = await receive(browser, "ready")
                assert second["worker"] == "W2" and second["token"] == first["token"] + 1
                assert second["replayed"] == 2  # the user's words and the answer
                assert await store.holder(conversation) == "W2"
                await browser.send(json.dumps({"text": QUESTION}))
                answer = await receive(browser, "answer")
                assert answer["text"] == ANSWER
                assert answer["responses"] == 2  # W1's response carried over, and W2's

            # at the service: W2's new socket got the conversation, then the note, then the
            # question, each once
            w2 = sim.connections[-1]
            assert len(sim.connections) == 2
            created = [e["item"] for e in w2.received.of_type("conversation.item.create")]
            words = [(i["role"], i["content"][0]["text"]) for i in created]
            assert words[:2] == [("user", INTRODUCTION), ("assistant", GREETING)]
            assert words[2][0] == "system" and "continues" in words[2][1]
            assert words[3:] == [("user", QUESTION)]
            await until(
                lambda: client.get(f"agentkit:lease:{conversation}") is None,
                "W2 to release the lease",
                started,
            )
            final = await store.load(conversation)
            assert final is not None and final.call_id is None
            assert [i["text"] for i in final.history if i["role"] == "user"][-1] == QUESTION
            assert final.usage["responses"] == 2
    finally:
        await store.close()
        client.close()
