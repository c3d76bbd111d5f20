"""Scaling figures: how fast a killed worker's sessions resume elsewhere, and what the Redis
session store costs per tool round beside the in-memory one.

    python benchmarks/scaling.py            # 1,000 sessions over 4 processes; one is killed
    python benchmarks/scaling.py --smoke    # 40 sessions and a few rounds: checks that it runs

Needs ``redis-server`` on the PATH and the ``celery`` extra (redis-py); it starts its own
redis-server on a free port, and the simulator (``agentkit.testing.Simulator``, in a process
of its own) as the realtime service.

**Takeover.** Each worker process holds its share of the sessions: it takes each session's
lease in a ``RedisSessionStore`` (ttl ``--ttl``), opens the session against the simulator,
attaches it as ``CeleryRunner.attach`` does (a ``Delivery`` reading the key's Redis stream,
renewing the lease and saving the record after every response) and has one exchange.
Workers publish a heartbeat with the same ttl. Once all sessions are up, worker 0 is killed
with SIGKILL. The survivors notice the missing heartbeat, take each orphaned session's lease as
soon as it expires, load its record, open a new session, ``resume`` it and attach it; each
then has one more exchange, to show the conversation goes on. Reported: the time from the kill
to each session resumed (p50, p99, max), which includes the lease's ttl, and the part of it
after the lease was taken (loading the record, connecting, replaying).

**Store cost per tool round.** In this process, sessions attached with an in-memory store and
with the Redis store (the same idle update source, so only the store differs) run tool rounds
(a call, its output, the follow-up), interleaved by store, against the simulator. Reported per
round: the wall time (median, p99), this process's CPU time and redis-server's CPU time, and
the ratio of the Redis store to the in-memory one.

The machine's load average is printed with the figures: the benchmark shares the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import redis
import redis.asyncio as aioredis
from common import percentile, raise_open_files

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.background import (
    BackgroundUpdate,
    Delivery,
    InMemorySessionStore,
    Lease,
    SessionRecord,
    SessionStore,
    resume,
)
from agentkit.background.redis import RedisSessionStore, RedisUpdates
from agentkit.testing import Scenario, Simulator

HELLO, HI = "hello", "Hi there."
AGAIN, WELCOME_BACK = "again", "Welcome back."
GO, DONE = "go", "Done."
OPENING_AT_ONCE = 50  # sessions a worker opens (or takes over) at the same time


@tool
def noop() -> str:
    """Do nothing, at once."""
    return "ok"


agent = Agent(
    name="bench", instructions="Be brief.", tools=[noop], modality="text", turn_detection=None
)
options = SessionOptions(speak_progress=False)


def scenario() -> Scenario:
    return (
        Scenario()
        .on(HELLO)
        .say(HI)
        .on(AGAIN)
        .say(WELCOME_BACK)
        .on(GO)
        .call("noop")
        .say(DONE)
        .otherwise("Hm.")
    )


class NoUpdates:
    """An update source with nothing to deliver: the store alone is measured."""

    async def read(self, key: str, after: str, block: float) -> Sequence[BackgroundUpdate]:
        await asyncio.sleep(block)
        return []

    async def cursor(self, key: str) -> str:
        return "0"

    async def delivered(self, key: str, entry_id: str) -> None:
        return None

    async def close(self) -> None:
        return None


# -- the parts: redis-server and the simulator ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--dir", folder, "--maxclients", "20000"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield url
        finally:
            client.close()
            process.terminate()
            process.wait(10)


def run_simulator(control: Connection) -> None:
    """Process entry point: serve the scenario until told to stop; send the port first."""
    raise_open_files()

    async def serve() -> None:
        async with Simulator(scenario()) as sim:
            control.send(sim.port)
            await asyncio.to_thread(control.recv)

    asyncio.run(serve())


@contextmanager
def simulator(ctx: Any) -> Iterator[str]:
    control, child_end = ctx.Pipe()
    process = ctx.Process(target=run_simulator, args=(child_end,), daemon=True)
    process.start()
    try:
        if not control.poll(60):
            raise RuntimeError("the simulator did not start")
        yield f"ws://127.0.0.1:{control.recv()}/v1/realtime?model=gpt-realtime"
    finally:
        control.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)


# -- takeover: worker processes ------------------------------------------------------------


class BenchWorker:
    """One worker process: holds sessions, and takes over those of a worker that died."""

    def __init__(self, index: int, keys: list[str], sim_url: str, url: str, ttl: float) -> None:
        self.index = index
        self.keys = keys
        self.endpoint = Endpoint.custom(sim_url, credential="test-key")
        self.url = url
        self.ttl = ttl
        self.store = RedisSessionStore(url)
        self.redis = aioredis.Redis.from_url(url, decode_responses=True)
        self.held: dict[str, tuple[Session, Delivery]] = {}
        self.opening = asyncio.Semaphore(OPENING_AT_ONCE)
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        heartbeat = asyncio.create_task(self._heartbeat())
        await self.redis.rpush(f"bench:owned:{self.index}", *self.keys)
        try:
            await asyncio.gather(*(self._start(key) for key in self.keys))
        except Exception as exc:
            await self._fail(f"worker {self.index} opening its sessions: {exc!r}")
            raise
        await self.redis.incr("bench:ready")
        processes = int(await self.redis.get("bench:processes") or 0)
        while True:  # peers still opening may be too busy to beat in time: wait for them
            if int(await self.redis.get("bench:ready") or 0) >= processes:
                break
            await asyncio.sleep(0.1)
        await asyncio.gather(heartbeat, self._watch_peers(), self._report_health())

    async def _report_health(self) -> None:
        """The event loop's longest lag since all workers were up, and the leases lost."""
        longest = 0.0
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            longest = max(longest, time.monotonic() - before - 0.1)
            lost = sum(delivery.lease_lost.is_set() for _, delivery in self.held.values())
            await self.redis.hset("bench:lag", str(self.index), longest)
            await self.redis.hset("bench:lost", str(self.index), lost)

    async def _heartbeat(self) -> None:
        while True:
            await self.redis.set(f"bench:alive:{self.index}", "1", px=int(self.ttl * 1000))
            await asyncio.sleep(self.ttl / 3)

    async def _open(self, key: str, lease: Lease, record: SessionRecord | None) -> Session:
        session = Session(agent, self.endpoint, options=options)
        await session.start()
        if record is not None:
            await resume(session, record)  # before attaching: nothing is spoken mid-replay
        updates = RedisUpdates(self.url)  # as CeleryRunner.attach reads them
        delivery = Delivery(session, key, updates, store=self.store, lease=lease)
        delivery.start()
        self.held[key] = (session, delivery)
        return session

    async def _start(self, key: str) -> None:
        async with self.opening:
            lease = await self.store.acquire(key, f"worker-{self.index}", self.ttl)
            assert lease is not None, key
            session = await self._open(key, lease, None)
            answer = await session.ask(HELLO, timeout=120)
            assert answer.text == HI, answer.text
            assert await self.held[key][1].save()  # autosave would, a moment later

    async def _watch_peers(self) -> None:
        peers = int(await self.redis.get("bench:processes") or 0)
        orphans: list[str] = []
        watched = {peer for peer in range(peers) if peer != self.index}
        while True:
            await asyncio.sleep(0.1)
            for peer in sorted(watched):
                if not await self.redis.exists(f"bench:alive:{peer}"):
                    watched.discard(peer)
                    orphans += await self.redis.lrange(f"bench:owned:{peer}", 0, -1)
                    random.shuffle(orphans)  # survivors try them in different orders
            for key in list(orphans):
                if key in self.held or await self.redis.sismember("bench:taken", key):
                    orphans.remove(key)
                    continue
                lease = await self.store.acquire(key, f"worker-{self.index}", self.ttl)
                if lease is None:
                    continue  # not expired yet, or another survivor has it
                orphans.remove(key)
                await self.redis.sadd("bench:taken", key)
                task = asyncio.create_task(self._take_over(key, lease, time.time()))
                self.tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        """A takeover that failed fails the run, at once and saying why."""
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failure = f"worker {self.index}: {task.exception()!r}"
            self.tasks.add(asyncio.create_task(self._fail(failure)))

    async def _fail(self, failure: str) -> None:
        await self.redis.rpush("bench:failed", failure)

    async def _take_over(self, key: str, lease: Lease, acquired_at: float) -> None:
        async with self.opening:
            record = await self.store.load(key)
            session = await self._open(key, lease, record)
            resumed_at = time.time()
            times = {"key": key, "acquired": acquired_at, "resumed": resumed_at}
            await self.redis.rpush("bench:resumed", json.dumps(times))
        answer = await session.ask(AGAIN, timeout=120)
        if answer.text == WELCOME_BACK:
            await self.redis.sadd("bench:answered", key)


def run_worker(index: int, keys: list[str], sim_url: str, url: str, ttl: float) -> None:
    """Process entry point of a worker (``kill -USR1`` prints its tasks' stacks)."""
    raise_open_files()

    async def run() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _print_tasks)
        await BenchWorker(index, keys, sim_url, url, ttl).run()

    asyncio.run(_within(run(), 3600))


def _print_tasks() -> None:
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


async def _within(work: Any, seconds: float) -> Any:
    """``work``, or after ``seconds`` every task's stack on stderr and an error: a stuck run
    says where it is stuck."""
    try:
        return await asyncio.wait_for(work, seconds)
    except asyncio.TimeoutError:
        _print_tasks()
        raise


def takeover(ctx: Any, sim_url: str, url: str, sessions: int, processes: int, ttl: float) -> Any:
    client = redis.Redis.from_url(url, decode_responses=True)
    client.set("bench:processes", processes)
    keys = [f"conv-{n:04d}" for n in range(sessions)]
    shares = [keys[index::processes] for index in range(processes)]
    workers = [
        ctx.Process(target=run_worker, args=(i, shares[i], sim_url, url, ttl), daemon=True)
        for i in range(processes)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    victims = set(shares[0])

    def resumed() -> list[dict[str, Any]]:
        return [json.loads(entry) for entry in client.lrange("bench:resumed", 0, -1)]

    def all_resumed() -> bool:
        after = {r["key"] for r in resumed() if r["resumed"] > killed_at}
        return victims <= after and victims <= client.smembers("bench:answered")

    try:
        _wait(lambda: int(client.get("bench:ready") or 0) == processes, "sessions", 1200, client)
        opened = time.monotonic() - started
        time.sleep(2.0)  # every lease renewed since its session started; every worker watching
        before_kill = len(resumed())
        killed_at = time.time()
        os.kill(workers[0].pid or 0, signal.SIGKILL)
        _wait(all_resumed, "the takeover", 600, client)
        entries = resumed()
        lag = max(float(value) for value in client.hvals("bench:lag"))
        lost = sum(int(value) for value in client.hvals("bench:lost"))
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
            worker.join(10)
        client.close()
    first = {}
    for entry in entries:
        if entry["key"] in victims and entry["resumed"] > killed_at:
            first.setdefault(entry["key"], entry)
    from_kill = [r["resumed"] - killed_at for r in first.values()]
    after_lease = [r["resumed"] - r["acquired"] for r in first.values()]
    return {
        "sessions": sessions,
        "processes": processes,
        "lease ttl (s)": ttl,
        "seconds to open every session": round(opened, 1),
        "sessions of the killed process": len(victims),
        "resumed elsewhere and answered again": len(first),
        "kill to resumed, p50 (s)": round(statistics.median(from_kill), 3),
        "kill to resumed, p99 (s)": round(percentile(from_kill, 0.99), 3),
        "kill to resumed, max (s)": round(max(from_kill), 3),
        "lease taken to resumed, p50 (s)": round(statistics.median(after_lease), 3),
        "lease taken to resumed, p99 (s)": round(percentile(after_lease, 0.99), 3),
        "takeovers of live sessions (a worker too slow to renew)": len(entries) - len(first),
        "of which before the kill": before_kill,
        "leases found lost by their worker": lost,
        "longest event-loop lag of a worker (s)": round(lag, 3),
    }


def _wait(check: Any, what: str, timeout: float, client: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        failed = client.lrange("bench:failed", 0, -1) if client is not None else []
        if failed:
            raise RuntimeError(f"{what} failed: {'; '.join(failed)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- the store's cost per tool round -------------------------------------------------------


async def _rounds(
    sim_url: str, store: SessionStore | None, sessions: int, rounds: int, ttl: float
) -> list[float]:
    """Each session runs ``rounds`` tool rounds; ``store=None``: attached without a store."""
    endpoint = Endpoint.custom(sim_url, credential="test-key")
    times: list[float] = []

    async def converse(key: str) -> None:
        lease = None if store is None else await store.acquire(key, "bench", ttl)
        assert store is None or lease is not None
        async with (
            Session(agent, endpoint, options=options) as session,
            Delivery(session, key, NoUpdates(), store=store, lease=lease),
        ):
            for _ in range(rounds):
                begun = time.perf_counter()
                answer = await session.ask(GO, timeout=120)
                times.append(time.perf_counter() - begun)
                assert answer.text == DONE, answer.text
        if store is not None and lease is not None:
            await store.release(lease)

    await asyncio.gather(*(converse(f"round-{id(store)}-{n}") for n in range(sessions)))
    return times


def _redis_cpu(client: redis.Redis) -> float:
    info: Any = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


KINDS = ("no store", "memory", "redis")


def store_rounds(sim_url: str, url: str, sessions: int, rounds: int, repeats: int) -> Any:
    """Rounds for each kind in turn, ``repeats`` times; CPU figures are medians of the repeats
    (the machine is shared: one repeat's figure can be off, a median of several less so)."""
    client = redis.Redis.from_url(url)
    walls: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}  # ms per round, per repeat
    server_cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}
    per_repeat = sessions * rounds

    async def measure() -> None:
        for _ in range(repeats):
            for kind in KINDS:
                store: Any = None
                if kind == "memory":
                    store = InMemorySessionStore()
                elif kind == "redis":
                    store = RedisSessionStore(url)
                cpu_before, server_before = time.process_time(), _redis_cpu(client)
                walls[kind] += await _rounds(sim_url, store, sessions, rounds, ttl=30)
                cpu[kind].append((time.process_time() - cpu_before) / per_repeat * 1e3)
                server_cpu[kind].append((_redis_cpu(client) - server_before) / per_repeat * 1e3)
                if kind == "redis":
                    await store.close()

    try:
        asyncio.run(_within(measure(), 900))
    finally:
        client.close()
    figures: dict[str, Any] = {
        "tool rounds per kind": per_repeat * repeats,
        "sessions at once": sessions,
        "repeats": repeats,
    }
    for kind in KINDS:
        figures[f"{kind}: round trip p50 (ms)"] = round(statistics.median(walls[kind]) * 1e3, 2)
        figures[f"{kind}: round trip p99 (ms)"] = round(percentile(walls[kind], 0.99) * 1e3, 2)
        figures[f"{kind}: client CPU per round (ms), median [min, max]"] = _spread(cpu[kind])
        figures[f"{kind}: redis-server CPU per round (ms)"] = _spread(server_cpu[kind])
    p50 = statistics.median(walls["redis"]) / statistics.median(walls["memory"])
    figures["redis/memory, round trip p50"] = round(p50, 2)
    ratios = [r / m for r, m in zip(cpu["redis"], cpu["memory"], strict=True)]
    figures["redis/memory, client CPU per round, median [min, max]"] = _spread(ratios)
    return figures


def _spread(values: list[float]) -> list[float]:
    return [round(statistics.median(values), 3), round(min(values), 3), round(max(values), 3)]


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run: checks that it runs")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--ttl", type=float, default=5.0, help="the lease ttl, seconds")
    parser.add_argument("--round-sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20, help="tool rounds per session")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--part", choices=("all", "takeover", "rounds"), default="all")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sessions, args.ttl = 40, 1.0
        args.round_sessions, args.rounds, args.repeats = 3, 3, 1
    raise_open_files()
    ctx = multiprocessing.get_context("spawn")
    load = os.getloadavg()
    with redis_server() as url, simulator(ctx) as sim_url:
        figures: dict[str, Any] = {
            "load average before (1, 5, 15 min)": [round(x, 2) for x in load],
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        }
        if args.part in ("all", "takeover"):
            figures["takeover"] = takeover(
                ctx, sim_url, url, args.sessions, args.processes, args.ttl
            )
        if args.part in ("all", "rounds"):
            figures["store per tool round"] = store_rounds(
                sim_url, url, args.round_sessions, args.rounds, args.repeats
            )
        figures["load average after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
