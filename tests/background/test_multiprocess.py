"""Sessions outlive their worker: three agentkit worker processes, two Celery workers, one
redis-server and the simulator; one agentkit worker and one Celery worker are killed with
SIGKILL mid-conversation, and every conversation ends as it does in a run without kills.

The run has two phases over the same processes: a calm one (nine conversations, no kill),
then a storm (nine more, the same words), in which one agentkit worker and the Celery worker
running jobs are killed while every report is in flight. Everything is counted, not sampled,
and the counts are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.testing import Scenario, Simulator, ToolOutputs
from tests.background.conftest import EXTRA, ROOT, Worker
from tests.support import TIMEOUT, eventually

pytest.importorskip("celery", reason=EXTRA)

from tests.background.worker_process import ASK, READY, THANKS, UNDER_WAY, WELCOME

redis = pytest.importorskip("redis", reason=EXTRA)

SESSIONS = 9  # per phase, three per agentkit worker
TOOL_SECONDS = 5.0
VISIBILITY_TIMEOUT = 10.0  # above the tool's time, so a job is handed out again only if lost
AGENTKIT_WORKERS = ("A", "B", "C")
VICTIM = "A"

RESULT = re.compile(r"^\[background task\] long_report \(call (\S+)\)")


def scenario() -> Scenario:
    def arguments(out: ToolOutputs) -> dict[str, Any]:
        return {"quarter": out.user_text.split()[2], "seconds": TOOL_SECONDS}

    return (
        Scenario()
        .on("report")
        .say("Starting the report.")
        .call("long_report", arguments)
        .say(UNDER_WAY)
        .on(RESULT)
        .say(READY)
        .on(THANKS)
        .say(WELCOME)
        .otherwise("I build reports.")
    )


class AgentkitWorker:
    def __init__(self, name: str, url: str, simulator_url: str, log: Path) -> None:
        self.name = name
        self.log = log
        env = {**os.environ, "AGENTKIT_TEST_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
        args = [sys.executable, "-m", "tests.background.worker_process", name, simulator_url]
        with log.open("wb") as out:
            self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


@pytest.fixture
def processes() -> Iterator[list[AgentkitWorker | Worker]]:
    started: list[AgentkitWorker | Worker] = []
    yield started
    for process in started:
        process.stop()


def record(client: Any, key: str) -> dict[str, Any]:
    text = client.get(f"agentkit:session:{key}")
    return json.loads(text) if text else {"history": [], "usage": {}}


def call_of(rec: dict[str, Any]) -> str | None:
    calls = [item["call_id"] for item in rec["history"] if item["type"] == "function_call"]
    return calls[0] if calls else None


def spoken(rec: dict[str, Any], text: str) -> bool:
    return any(item["text"] == text for item in rec["history"] if item["role"] == "assistant")


def conversation(rec: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A conversation as words and calls: call ids masked, the takeover's system note left out."""
    call_id = call_of(rec) or "-"

    def masked(value: Any) -> Any:
        return value.replace(call_id, "CALL") if isinstance(value, str) else value

    fields = ("type", "role", "text", "name", "arguments", "output")
    return [
        tuple(masked(item.get(name)) for name in fields)
        for item in rec["history"]
        if item["role"] != "system"
    ]


def client_items(sim: Simulator, connection: int) -> list[dict[str, Any]]:
    events = sim.connections[connection].received.of_type("conversation.item.create")
    return [event["item"] for event in events]


def issued_calls(sim: Simulator, connection: int) -> set[str]:
    """The calls the model made on a connection (not those the client replayed to it)."""
    return {
        str(event["item"]["call_id"])
        for event in sim.connections[connection].sent
        if event.get("type") == "response.output_item.done"
        and event["item"].get("type") == "function_call"
    }


def text_of(item: dict[str, Any]) -> str:
    return " ".join(str(part.get("text", "")) for part in item.get("content") or [])


async def test_sessions_and_jobs_survive_sigkill_of_their_workers(
    redis_url: str, tmp_path: Path, processes: list[AgentkitWorker | Worker]
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await run(client, redis_url, tmp_path, processes)
    finally:
        client.close()


async def run(
    client: Any, url: str, tmp_path: Path, processes: list[AgentkitWorker | Worker]
) -> None:
    env = {"AGENTKIT_TEST_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
    pool = ("--pool=threads", "--concurrency=5")
    engines = []
    for name in ("c1", "c2"):
        engine = Worker(name, url, tmp_path / f"{name}.log", pool=pool, env=env, wait=False)
        processes.append(engine)
        engines.append(engine)
    async with Simulator(scenario()) as sim:
        workers: dict[str, AgentkitWorker] = {}
        for name in AGENTKIT_WORKERS:
            workers[name] = AgentkitWorker(name, url, sim.ga_url(), tmp_path / f"{name}.log")
            processes.append(workers[name])
        for engine in engines:
            await asyncio.to_thread(engine.wait_ready)
        await eventually(
            lambda: client.scard("mp:workers") == 3, "agentkit workers", timeout=TIMEOUT * 4
        )

        def assign(phase: str) -> list[str]:
            keys = [f"{phase}-{index}" for index in range(SESSIONS)]
            for index, key in enumerate(keys):
                client.rpush(f"mp:assign:{AGENTKIT_WORKERS[index % 3]}", key)
            return keys

        def all_done(keys: list[str]) -> Callable[[], bool]:
            return lambda: all(client.sismember("mp:done", key) for key in keys)

        calm = assign("calm")
        await eventually(all_done(calm), "the calm conversations to end", timeout=TIMEOUT * 8)

        storm = assign("storm")
        victims = [key for index, key in enumerate(storm) if index % 3 == 0]

        def in_flight() -> bool:
            records = [record(client, key) for key in storm]
            calls = [call_of(rec) for rec in records]
            return all(
                call is not None and client.hexists("mp:started", call) for call in calls
            ) and all(spoken(record(client, key), UNDER_WAY) for key in victims)

        await eventually(in_flight, "every report to be under way", timeout=TIMEOUT * 4)
        running = {e.name: client.smembers(f"mp:running:{e.process.pid}") for e in engines}
        engine = max(engines, key=lambda e: len(running[e.name]))
        lost_jobs = running[engine.name]
        engine.kill()
        workers[VICTIM].kill()
        killed_at = time.monotonic()
        assert lost_jobs, "the killed Celery worker ran no job"
        assert not any(spoken(record(client, key), READY) for key in victims)

        await eventually(all_done(storm), "the storm's conversations to end", timeout=TIMEOUT * 10)

        counts = Counts(client, sim, calm, storm)
        figures = counts.figures(lost_jobs, time.monotonic() - killed_at)
        print("\nmulti-process run:", json.dumps(figures, indent=2))

    # -- assert -----------------------------------------------------------------------------
    c = counts
    assert sorted(c.moved) == sorted(victims)
    for key in victims:
        assert c.drivers[key][0] == VICTIM and len(c.drivers[key]) == 2
        assert c.drivers[key][1] != VICTIM
    assert all(len(c.drivers[key]) == 1 for key in c.records if key not in victims)
    assert {c.call_key[call] for call in lost_jobs} <= set(storm)
    assert set(c.started) == set(c.finished) == set(c.call_key)
    assert all(c.finished[call] == 1 for call in c.call_key), c.finished
    assert all(c.started[call] == (2 if call in lost_jobs else 1) for call in c.call_key), c.started
    assert c.outputs_posted == Counter(dict.fromkeys(c.call_key, 1))
    assert c.outputs_replayed == Counter({c.calls[key]: 1 for key in victims})
    assert c.results_spoken == Counter(dict.fromkeys(c.call_key, 1))
    assert c.told == dict.fromkeys(c.records, 1)
    for key, rec in c.records.items():
        texts = [item["text"] for item in rec["history"] if item["type"] == "message"]
        result = next(i for i, text in enumerate(texts) if RESULT.match(text))
        assert texts[result + 1 :] == [READY, THANKS, WELCOME], key
        assert texts[0] == ASK.format(quarter=f"Q{int(key.rsplit('-', 1)[1]) % 4 + 1}")
    for index in range(SESSIONS):
        calm_rec, storm_rec = c.records[f"calm-{index}"], c.records[f"storm-{index}"]
        assert conversation(storm_rec) == conversation(calm_rec)
        assert storm_rec["usage"]["responses"] == calm_rec["usage"]["responses"] == 4
    assert figures["sessions"] == figures["results spoken"] == SESSIONS * 2


class Counts:
    """What the run left behind: the records, Redis's counters and the simulator's logs."""

    def __init__(self, client: Any, sim: Simulator, calm: list[str], storm: list[str]) -> None:
        self.calm, self.storm = calm, storm
        self.records = {key: record(client, key) for key in calm + storm}
        self.calls = {key: str(call_of(rec)) for key, rec in self.records.items()}
        self.call_key = {call: key for key, call in self.calls.items()}
        self.drivers = {key: client.lrange(f"mp:drivers:{key}", 0, -1) for key in self.records}
        self.moved = [key for key in storm if len(self.drivers[key]) > 1]
        self.started = {call: int(n) for call, n in client.hgetall("mp:started").items()}
        self.finished = {call: int(n) for call, n in client.hgetall("mp:finished").items()}
        self.told = {key: int(n) for key, n in client.hgetall("mp:told").items()}
        self.connections = len(sim.connections)
        self.outputs_posted: Counter[str] = Counter()  # where the model made the call
        self.outputs_replayed: Counter[str] = Counter()  # sent again to a takeover's socket
        self.results_spoken: Counter[str] = Counter()
        for connection in range(self.connections):
            made = issued_calls(sim, connection)
            for item in client_items(sim, connection):
                if item.get("type") == "function_call_output":
                    posted = item["call_id"] in made
                    counter = self.outputs_posted if posted else self.outputs_replayed
                    counter[item["call_id"]] += 1
                match = RESULT.match(text_of(item)) if item.get("role") == "user" else None
                if match:
                    self.results_spoken[match.group(1)] += 1

    def figures(self, lost_jobs: set[str], took: float) -> dict[str, float]:
        matching = sum(
            conversation(self.records[f"storm-{i}"]) == conversation(self.records[f"calm-{i}"])
            for i in range(SESSIONS)
        )
        return {
            "sessions": len(self.records),
            "sessions taken over": len(self.moved),
            "connections": self.connections,
            "tool calls": len(self.calls),
            "tool runs started": sum(self.started.values()),
            "tool runs finished": sum(self.finished.values()),
            "jobs lost with the Celery worker (run again)": len(lost_jobs),
            "outputs posted": sum(self.outputs_posted.values()),
            "outputs replayed on takeover": sum(self.outputs_replayed.values()),
            "results spoken": sum(self.results_spoken.values()),
            "BackgroundResult events": sum(self.told.values()),
            "storm conversations matching the calm run": matching,
            "seconds from the kills to the storm's end": round(took, 1),
        }
