"""Every install line the repository shows installs agentkit under its distribution name.

``agentkit`` on the package index is an unrelated project: a line that says
``pip install agentkit`` (or ``agentkit[web]``) installs that instead. Lines that install from a
checkout (``-e '.[dev]'``) must name extras that exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = "agentkit-realtime"
EXTRAS = set(metadata(DIST).get_all("Provides-Extra") or ())  # the checkout, installed
PIP_INSTALL = re.compile(r"pip install ([^`\n#]+)")
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9._-]+|\.)(?:\[(?P<extras>[^\]]*)\])?$")


def shown_files() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").rglob("*.md"))
    for package in ("agentkit", "examples", "benchmarks"):
        yield from sorted((ROOT / package).rglob("*.py"))


def install_lines() -> Iterator[tuple[str, str]]:
    for path in shown_files():
        text = path.read_text(encoding="utf-8")
        for match in PIP_INSTALL.finditer(text):
            where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
            yield where, match.group(1)


def requirements(arguments: str) -> Iterator[re.Match[str]]:
    for word in (word.strip("'\"`") for word in arguments.split()):
        if word.startswith("-"):
            continue
        if found := REQUIREMENT.match(word):
            yield found


def test_the_scan_finds_the_docs_install_lines() -> None:
    assert {"testing", "web"} <= EXTRAS
    assert any(DIST in line for _, line in install_lines())


@pytest.mark.parametrize(("where", "line"), list(install_lines()), ids=lambda value: value)
def test_install_lines_name_the_distribution_and_real_extras(where: str, line: str) -> None:
    for requirement in requirements(line):
        name, extras = requirement["name"], requirement["extras"]
        if name != "." and not name.startswith("agentkit"):
            continue  # another project's package (opentelemetry-sdk, ...)
        assert name in {DIST, "."}, f"{where}: `{name}` is not this project; say `{DIST}`"
        named = {extra.strip() for extra in (extras or "").split(",") if extra.strip()}
        assert named <= EXTRAS, f"{where}: no such extra {sorted(named - EXTRAS)}"
