"""A real redis-server and real Celery workers, started by the tests themselves.

Without ``redis-server`` on the PATH the tests skip, saying so; under CI (``CI`` set) they fail
instead, since CI installs it (``.ci/run``).
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]

EXTRA = 'needs the celery extra: pip install -e ".[celery]"'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free port; its URL."""
    redis = pytest.importorskip("redis", reason=EXTRA)
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        _wait_until(answers, "redis-server to answer")
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(TIMEOUT)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The server's URL, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


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
