"""``python -m examples.scaling``: the scaling picture on one machine, with one command.

1. a redis-server on a free port (the broker, the update log and the session store);
2. the simulator, standing in for the Realtime API;
3. a Celery worker (``celery -A examples.scaling.tasks worker``) for the background tool;
4. two agentkit workers; worker-1 starts conversation ``demo-1`` and asks for a report;
5. while the report is being built, worker-1 is killed with SIGKILL;
6. worker-2 takes the conversation over within the lease's ttl, resumes it from its record,
   and speaks the report's result when the Celery job finishes.

Every process it started is stopped at the end, also on failure or Ctrl-C. Set
``REPORT_SECONDS`` to change how long the report takes (6 by default).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from agentkit.background.redis import RedisSessionStore
from agentkit.testing import Scenario, Simulator

ROOT = Path(__file__).resolve().parents[2]
KEY = "demo-1"
TIMEOUT = 60.0

scenario = (
    Scenario()
    .on("report")
    .say("Sure, I am starting the Q3 report; it takes a little while.")
    .call("build_report", quarter="Q3")
    .say("The report is under way. I will tell you as soon as it is ready.")
    .on(re.compile(r"^\[background task\] build_report"))
    .say("The Q3 report is ready: revenue 1.25 million euros, up 8.5 percent.")
    .on("thanks")
    .say("You're welcome. Goodbye!")
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Parts:
    """The processes started, each stopped at the end whatever happens."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.lines: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.readers: list[asyncio.Task[None]] = []

    async def start(self, name: str, *args: str, env: dict[str, str], show: bool) -> None:
        if show:
            out = asyncio.subprocess.PIPE
            process = await asyncio.create_subprocess_exec(
                *args, cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
            self.readers.append(asyncio.create_task(self._read(name, process)))
        else:
            with (self.folder / f"{name}.log").open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *args, cwd=ROOT, env=env, stdout=log, stderr=log
                )
        self.processes[name] = process

    async def _read(self, name: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            print(f"  [{name}] {line}", flush=True)
            await self.lines.put((name, line))

    async def wait_for(self, name: str, fragment: str) -> None:
        """Until process ``name`` prints a line containing ``fragment``."""

        async def seen() -> None:
            while True:
                who, line = await self.lines.get()
                if who == name and fragment in line:
                    return

        try:
            await asyncio.wait_for(seen(), TIMEOUT)
        except asyncio.TimeoutError:
            raise SystemExit(f"{name} never said {fragment!r}") from None

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    async def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop_all(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.terminate()
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), 10)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def until_ready(parts: Parts, name: str, marker: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while marker not in parts.log(name):
        if parts.processes[name].returncode is not None or time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start:\n{parts.log(name)}")
        await asyncio.sleep(0.1)


async def main() -> None:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as folder:
        parts = Parts(Path(folder))
        try:
            await run(parts, redis_server)
        finally:
            await parts.stop_all()
            print("stopped every process started")


async def run(parts: Parts, redis_server: str) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = {**os.environ, "REDIS_URL": url, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    print(f"1. redis-server on port {port}")
    args = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    await parts.start("redis", *args, "--dir", str(parts.folder), env=env, show=False)
    await until_ready(parts, "redis", "Ready to accept connections")

    async with Simulator(scenario) as sim:
        print(f"2. the simulator at {sim.url}")
        print("3. a Celery worker")
        celery = [sys.executable, "-m", "celery", "-A", "examples.scaling.tasks", "worker"]
        celery += ["--pool=solo", "-n", "reports@%h", "-l", "info", "--without-mingle"]
        await parts.start("celery", *celery, env=env, show=False)
        await until_ready(parts, "celery", " ready.")

        print("4. two agentkit workers; worker-1 starts the conversation")
        worker = [sys.executable, "-m", "examples.scaling.worker"]
        await parts.start("worker-2", *worker, "worker-2", sim.ga_url(), env=env, show=True)
        await parts.wait_for("worker-2", "ready")
        start = ["worker-1", sim.ga_url(), "--start", KEY]
        await parts.start("worker-1", *worker, *start, env=env, show=True)
        await parts.wait_for("worker-1", ".. build_report:")

        print("5. the report is being built on Celery: kill worker-1 (SIGKILL)")
        await parts.kill("worker-1")
        killed = time.monotonic()

        print("6. worker-2 takes the conversation over once worker-1's lease expires")
        await parts.wait_for("worker-2", f"took over {KEY}")
        print(f"   ... {time.monotonic() - killed:.1f} s after the kill")
        store = RedisSessionStore(url)  # any process can ask who drives a conversation
        print(f"   the store says {KEY} is driven by {await store.holder(KEY)}")
        await store.close()
        await parts.wait_for("worker-2", f"finished {KEY}")
        print("the conversation ended on worker-2")


if __name__ == "__main__":
    asyncio.run(main())
