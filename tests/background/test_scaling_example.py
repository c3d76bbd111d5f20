"""``python -m examples.scaling`` runs the whole picture: a worker killed mid-report, its
conversation taken over by the other, the report's result spoken there once, and every
process it started stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.background.conftest import EXTRA, ROOT
from tests.support import TIMEOUT

pytest.importorskip("celery", reason=EXTRA)


def test_the_scaling_example_runs_with_one_command() -> None:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "REPORT_SECONDS": "3"}
    # Its own process group: were it to hang, the group (and every part it started) is killed.
    example = subprocess.Popen(
        [sys.executable, "-m", "examples.scaling"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = example.communicate(timeout=TIMEOUT * 24)
    finally:
        if example.poll() is None:
            os.killpg(example.pid, signal.SIGKILL)
            example.communicate()
    assert example.returncode == 0, out
    lines = out.splitlines()

    def index(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    killed = index("kill worker-1 (SIGKILL)")
    assert index("[worker-1] worker-1: .. build_report: collecting the sales figures") < killed
    assert killed < index("[worker-2] worker-2: took over demo-1 (lease token 2")
    assert "   the store says demo-1 is driven by worker-2" in lines
    ready = [line for line in lines if "The Q3 report is ready" in line]
    assert len(ready) == 1 and ready[0].startswith("  [worker-2] worker-2: assistant:")
    assert index("[worker-2] worker-2: finished demo-1") < index("stopped every process started")
    assert not [line for line in lines if "[worker-1]" in line and "[background task]" in line]
