"""A sideband call outlives its worker: worker A drives a call through its sideband under a
lease and is killed with SIGKILL while a tool call is in flight; worker B takes the lease over
once it expires, attaches a new sideband to the same ``call_id`` and the conversation goes on.

Real parts: a redis-server, two worker processes (``tests/background/sideband_worker.py``)
and the simulator in this process playing the service, which holds the call and its
conversation across sideband sockets. Everything asserted is counted at the service or in
Redis.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentkit import Endpoint
from agentkit.background import Lease, LeaseLostError, SessionRecord
from agentkit.calls import CallControl
from agentkit.testing import Scenario, Simulator
from tests.background.conftest import EXTRA, ScriptProcess, until

redis = pytest.importorskip("redis", reason=EXTRA)

from agentkit.background.redis import RedisSessionStore  # noqa: E402
from tests.background.sideband_worker import CREDENTIAL, LEASE_TTL  # noqa: E402

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
FIRST = "where is my order?"
AGAIN = "any news on my order?"
ANSWER = "Your order shipped."


def worker(log: Path, *args: str) -> ScriptProcess:
    return ScriptProcess("tests.background.sideband_worker", log, *args)


def scenario() -> Scenario:
    return Scenario().on("order").call("order_status", order_id="42").then().say(ANSWER).scenario


async def test_a_sideband_call_is_taken_over_by_its_call_id_when_its_worker_dies(
    redis_url: str, tmp_path: Path, started: list[ScriptProcess]
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisSessionStore(redis_url)
    seen_status: list[str] = []
    try:
        async with Simulator(scenario(), api_key=CREDENTIAL) as sim:
            endpoint = Endpoint.custom(sim.openai_url(), credential=CREDENTIAL)
            control = CallControl(endpoint, api_base_url=sim.calls.api_base)
            call_id = (await control.create_call(OFFER)).call_id
            call = sim.calls.calls[call_id]

            async def watch() -> None:
                while True:
                    seen_status.append(call.status)
                    await asyncio.sleep(0.02)

            watcher = asyncio.create_task(watch())
            args = (redis_url, sim.openai_url(), call_id)
            a = worker(tmp_path / "A.log", "A", *args, "--hang")
            started.append(a)
            await until(lambda: client.get("sb:attached:A"), "A to attach", started)
            token_a = int(client.get("sb:attached:A"))
            b = worker(tmp_path / "B.log", "B", *args)
            started.append(b)
            # B is up and refused while A holds the lease
            await until(lambda: client.hget("sb:refused", "B"), "B to be refused", started)

            await sim.calls.caller_says(call_id, FIRST)
            await until(lambda: client.lrange("sb:runs", 0, -1), "A's tool to run", started)

            def saved() -> SessionRecord | None:
                text = client.get(f"agentkit:session:{call_id}")
                record = SessionRecord.from_json(text) if text else None
                return record if record is not None and record.calls_in_flight else None

            record_a = await until(saved, "A's record with the call in flight", started)
            assert record_a.call_id == call_id
            (lost_call,) = record_a.calls_in_flight
            a.process.send_signal(signal.SIGKILL)  # mid-call: the tool is still running
            await until(lambda: a.process.poll() is not None, "A to die", started)

            await until(lambda: client.get("sb:attached:B"), "B to take the call over", started)
            token_b = int(client.get("sb:attached:B"))
            assert token_b == token_a + 1
            assert int(client.hget("sb:refused", "B")) >= 1
            assert await store.holder(call_id) == "B"

            # A, were it alive, could no longer write: its lease is fenced off
            stale = Lease(call_id, "A", token_a, LEASE_TTL)
            with pytest.raises(LeaseLostError):
                await store.save(record_a, stale)
            with pytest.raises(LeaseLostError):
                await store.renew(stale)

            await sim.calls.caller_says(call_id, AGAIN)

            def answered() -> bool:
                state = call.state
                return state is not None and any(
                    i["type"] == "message" and i["role"] == "assistant" and _text(i) == ANSWER
                    for i in state.conversation.items
                )

            await until(answered, "the answer after the takeover", started)
            client.rpush("sb:stop:B", "stop")
            await until(lambda: client.get("sb:usage:B"), "B to stop", started)
            # not process.wait(): B's sideband closes through the simulator, in this loop
            await until(lambda: b.process.poll() is not None, "B to exit", started)
            assert b.process.returncode == 0, b.text()
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

            assert set(seen_status) == {"active"} and call.status == "active"
            sidebands = [c for c in sim.connections if f"call_id={call_id}" in c.path]
            assert len(sidebands) == 2  # A's, then B's

            # the conversation at the service: every item once, nothing replayed
            state = call.state
            assert state is not None
            items = state.conversation.items
            assert len({i["id"] for i in items}) == len(items)
            outline = [(i["type"], i.get("role") or i.get("name")) for i in items]
            assert outline == [
                ("message", "user"),
                ("function_call", "order_status"),
                ("message", "system"),  # B's note: the call in flight at A's death is lost
                ("message", "user"),
                ("function_call", "order_status"),
                ("function_call_output", None),
                ("message", "assistant"),
            ]
            assert [_text(i) for i in items if i.get("role") == "user"] == [FIRST, AGAIN]
            assert items[1]["call_id"] == lost_call
            assert lost_call in _text(items[2]) and "lost" in _text(items[2])
            new_call = items[4]["call_id"]
            created = sidebands[1].received.of_type("conversation.item.create")
            assert [e["item"]["type"] for e in created] == ["message", "function_call_output"]

            # at most one output per call across both sockets: the lost call gets none
            outputs = Counter(
                e["item"]["call_id"]
                for e in sim.received
                if e["type"] == "conversation.item.create"
                and e["item"].get("type") == "function_call_output"
            )
            assert outputs == {new_call: 1}
            assert client.lrange("sb:runs", 0, -1) == [f"A:{lost_call}", f"B:{new_call}"]

            # usage: B counts every response of the call, A's included
            done = {
                e["response"]["id"]: e["response"]["usage"]
                for c in sidebands
                for e in c.sent.of_type("response.done")
            }
            assert len(done) == 3  # A's call; B's call and its answer
            usage_b = json.loads(client.get("sb:usage:B"))
            assert record_a.usage["responses"] == 1 and record_a.usage["output_tokens"] > 0
            assert usage_b["responses"] == 3
            for name in ("input_tokens", "output_tokens"):
                assert usage_b[name] == sum(u[name] for u in done.values()), name
            final = SessionRecord.from_json(client.get(f"agentkit:session:{call_id}"))
            assert final.call_id == call_id and final.usage == usage_b
            assert final.calls_in_flight == {}
    finally:
        await store.close()
        client.close()


def _text(item: dict[str, Any]) -> str:
    parts = item.get("content") or []
    return "".join(str(p.get("text") or p.get("transcript") or "") for p in parts)
