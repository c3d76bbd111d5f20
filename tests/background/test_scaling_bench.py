"""benchmarks/scaling.py runs (its smoke form): sessions of a killed process are resumed and
answer again, and the store's rounds complete. No figure is judged: timings are the
benchmark's to report, not a test's to assert."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.background.conftest import EXTRA, ROOT
from tests.support import TIMEOUT

pytest.importorskip("celery", reason=EXTRA)


def test_the_scaling_benchmark_runs_in_its_smoke_form() -> None:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [sys.executable, "benchmarks/scaling.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 24,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    figures = json.loads(done.stdout)
    takeover = figures["takeover"]
    orphans = takeover["sessions of the killed process"]
    assert orphans == takeover["sessions"] // takeover["processes"]
    assert takeover["resumed elsewhere and answered again"] == orphans
    rounds = figures["store per tool round"]
    assert rounds["tool rounds per kind"] > 0
    assert rounds["redis/memory, round trip p50"] > 0
