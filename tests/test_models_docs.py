"""docs/models.md says only what is true: its profile table is agentkit's, and each Python
snippet runs and prints what the page shows under it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentkit.models import PROFILES, ModelProfile
from tests.support import TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
SNIPPET = re.compile(r"```python\n(.*?)```\n\n```text\n(.*?)```", re.DOTALL)


def _cell(value: bool | int | None, yes: str = "yes", no: str = "no") -> str:
    if value is None:
        return "not found"
    if isinstance(value, bool):
        return yes if value else no
    return f"{value:,}"


def _row(profile: ModelProfile) -> list[str]:
    return [
        f"`{profile.family}`",
        _cell(profile.images),
        _cell(profile.reasoning),
        _cell(profile.parallel_tool_calls),
        _cell(profile.several_messages, "several", "one"),
        str(len(profile.voices or ())),
        _cell(profile.context_tokens),
        _cell(profile.max_output_tokens),
    ]


def test_the_profile_table_is_agentkit_s() -> None:
    table = PAGE.split("## The profiles", 1)[1].split("\n\n", 2)[1]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]
    ]
    assert rows == [_row(profile) for profile in PROFILES.values()]


@pytest.mark.parametrize("index", range(len(SNIPPET.findall(PAGE))))
def test_each_snippet_prints_what_the_page_shows(index: int) -> None:
    code, expected = SNIPPET.findall(PAGE)[index]
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 6,
        cwd=ROOT,
        env={"PATH": "", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


def test_the_page_has_its_snippets() -> None:
    assert len(SNIPPET.findall(PAGE)) == 2
