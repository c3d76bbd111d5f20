"""Real Celery workers, started by the tests themselves, on the redis-server of
``tests/conftest.py``."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import TIMEOUT, eventually

if TYPE_CHECKING:
    from agentkit.background import Lease, SessionStore

ROOT = Path(__file__).resolve().parents[2]

EXTRA = 'needs the celery extra: pip install -e ".[celery]"'


def _wait_until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def bg_app(redis_url: str) -> ModuleType:
    """tests.background.app, pointed at this test's Redis."""
    pytest.importorskip("celery", reason=EXTRA)
    os.environ["AGENTKIT_TEST_REDIS_URL"] = redis_url
    module = importlib.import_module("tests.background.app")
    module.configure(redis_url)
    return module


class Worker:
    """One ``celery worker`` subprocess (by default the solo pool: one job at a time)."""

    def __init__(
        self,
        name: str,
        url: str,
        log: Path,
        *,
        pool: Sequence[str] = ("--pool=solo",),
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> None:
        self.name = name
        self.log = log
        environment = {**os.environ, **(env or {})}
        environment.update(AGENTKIT_TEST_REDIS_URL=url, PYTHONPATH=str(ROOT))
        args = [sys.executable, "-m", "celery", "-A", "tests.background.app", "worker"]
        args += [*pool, "-n", f"{name}@%h", "-l", "info"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(args, cwd=ROOT, env=environment, stdout=out, stderr=out)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        _wait_until(self._ready, f"celery worker {self.name} to start", TIMEOUT * 4)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited: {self.log_text()}")
        return " ready." in self.log_text()

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, nothing acknowledged or handed back."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Callable[[str], Worker]]:
    """Start workers by name; all are stopped after the test."""
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(name, redis_url, tmp_path / f"{name}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


class ScriptProcess:
    """A test's own worker script (``python -m module args``), its output in ``log``."""

    def __init__(self, module: str, log: Path, *args: str) -> None:
        self.log = log
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", module, *args]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT)


@pytest.fixture
def started() -> Iterator[list[ScriptProcess]]:
    """The worker scripts a test starts, killed after it whatever happened."""
    processes: list[ScriptProcess] = []
    yield processes
    for process in processes:
        process.stop()


async def until(check: Callable[[], Any], what: str, workers: list[ScriptProcess]) -> Any:
    """``check()``'s first true value; on timeout, fails with every worker's log."""

    def logs() -> str:
        return "\n".join(f"--- {w.log.name}\n{w.text()}" for w in workers)

    return await eventually(check, what, timeout=TIMEOUT * 3, details=logs)


async def take_over(store: SessionStore, key: str, owner: str, ttl: float = 5) -> Lease:
    """``key``'s lease for ``owner``, once the lease held before has expired."""
    return await eventually(lambda: store.acquire(key, owner, ttl), f"{key}'s lease to expire")
