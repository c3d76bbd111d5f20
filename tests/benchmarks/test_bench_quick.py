"""The benchmark's smoke form runs end to end and prints every figure (no timing assertions).

``make bench`` is run by hand; this keeps it from rotting: the server, every client scenario and
the table must still work, whatever the figures read on a busy CI machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import TIMEOUT

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"

# Each figure of the table, and whether it carries a target (then PASS or MISS).
FIGURES = [
    (r"tool round trip, median, calls 1-100", True),
    (r"tool round trip, p99, calls 1-100", False),
    (r"tool round trip, median, calls 101-200", True),
    (r"client CPU per tool round trip \(all calls\)", False),
    (r"agentkit median growth, calls 101-200 vs calls 1-100", True),
    (r"tool round trip, median, all calls, `def` tool", False),
    (r"tool round trip, median, all calls, `def` tool, blocking=False", False),
    (r"paced round trip \(10 ms apart\), median, `async def` tool", True),
    (r"paced round trip \(10 ms apart\), median, `def` tool", True),
    (r"paced round trip \(10 ms apart\), median, `def` tool, blocking=False", False),
    (r"audio stream, 200 deltas of 100 ms", True),
    (r"memory per idle session \(tracemalloc, 20 sessions\)", True),
    (r"memory per idle session \(RSS, 20 sessions\)", True),
    (r"10 sessions x 1 round trip/s, 1 s: p99", True),
    (r"10 sessions x 1 round trip/s, 1 s: client CPU", False),
]


def test_the_smoke_run_prints_every_figure_with_its_verdict() -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--quiet"],
        capture_output=True,
        text=True,
        timeout=24 * TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for figure, has_target in FIGURES:
        found = [line for line in lines if re.match(figure + r"\s", line)]
        assert len(found) == 1, (figure, done.stdout)
        verdict = re.search(r"\s(PASS|MISS)$", found[0])
        assert (verdict is not None) == has_target, found[0]
        assert re.search(r"\s\d[\d,.]*\s", found[0]), found[0]  # a number, not a placeholder


COLD_PATH = RUN.with_name("cold_path.py")


def test_the_cold_path_benchmark_times_both_clients_warm_and_paced() -> None:
    done = subprocess.run(
        [sys.executable, str(COLD_PATH), "--rounds", "5", "--pause-ms", "1", "--no-pin"],
        capture_output=True,
        text=True,
        timeout=4 * TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for mode in ("warm", "paced 1 ms"):
        assert re.search(rf"^\s+{mode}\s+bare\s+\d+\.\d ", done.stdout, re.M), done.stdout
        for tool in ("async", "def"):
            line = rf"^\s+{mode}\s+{tool}\s+\d+\.\d \(.*\)\s+\d+\.\d\dx bare$"
            assert re.search(line, done.stdout, re.M), done.stdout
