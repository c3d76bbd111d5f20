"""The runnable snippets of the user docs run as written, offline, and print what the page says.

A Python block right after ``<!-- checked: runs offline -->`` is run in a fresh interpreter; the
``text`` block that follows it, if any, is its expected output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
MARKED = re.compile(
    r"<!-- checked: runs offline -->\n```python\n(?P<code>.*?)```\n"
    r"(?:\n[^`]*?```text\n(?P<output>.*?)```)?",
    re.DOTALL,
)


def _snippets() -> list[tuple[str, str, str | None]]:
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for n, match in enumerate(MARKED.finditer(page.read_text())):
            found.append((f"{page.name}#{n}", match["code"], match["output"]))
    return found


SNIPPETS = _snippets()


def test_the_pages_have_runnable_snippets() -> None:
    assert any(name.startswith("sessions.md") for name, _, _ in SNIPPETS)


@pytest.mark.parametrize(
    ("code", "output"), [s[1:] for s in SNIPPETS], ids=[s[0] for s in SNIPPETS]
)
def test_a_snippet_runs_and_prints_what_the_page_says(code: str, output: str | None) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 6,
        cwd=ROOT,
    )
    assert ran.returncode == 0, ran.stderr
    if output is not None:
        assert ran.stdout == output
