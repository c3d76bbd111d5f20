"""``@tool`` keeps signatures for type checkers: mypy --strict over typing_cases.py."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

CASES = Path(__file__).with_name("typing_cases.py")


def test_tool_keeps_signatures_for_mypy() -> None:
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--hide-error-context", str(CASES)]
    )
    assert status == 0, stdout + stderr
