"""The tracing benchmark's quick form runs end to end and prints every figure with its target.

No timing is asserted (CI machines vary); this keeps the script from rotting.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import TIMEOUT

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tracing_overhead.py"

FIGURES = (
    r"agentkit CPU per round above the SDK floor: -?[\d.]+ us .* target <= 15 us  (PASS|MISS)",
    r"paced round trip \(1 per 10 ms\), SDK against tracing off: [+-][\d.]+% .* "
    r"target <= \+10%  (PASS|MISS)",
    r"tracing off against no tracing code: [\d.]+% .* target <= 2%  (PASS|MISS)",
)


def test_the_quick_run_prints_every_figure_with_its_target() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 12,
        cwd=SCRIPT.parent.parent,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for figure in FIGURES:
        assert any(re.fullmatch(figure, line) for line in lines), (figure, result.stdout)
