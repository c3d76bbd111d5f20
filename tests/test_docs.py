"""The documentation stands on its own and speaks to users.

* Nothing in the repository cites notes that it does not ship (a protocol write-up kept beside
  the repository, or numbered sections of any document but an RFC).
* The user pages (``docs/*.md`` and the README) hold no lab notebook: no numbered rounds of
  work, no "tried and dropped". That history belongs in ``docs/dev/`` or the git log.
* Every relative link in the README and under ``docs/`` reaches a file that exists (and, for
  ``#anchors``, a heading that exists), and every page under ``docs/`` can be reached from the
  README.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

SCANNED_DIRS = (".ci", "agentkit", "benchmarks", "docs", "examples", "tests")
TEXT_SUFFIXES = frozenset({".py", ".md", ".txt", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".json"})
TEXT_SUFFIXES |= {".jsonl", ".html", ".js", ".css", ".rst"}

# Spelled in pieces so that this file does not match itself.
UNSHIPPED = ("realtime" + "-protocol", ".." + "/shared")
SECTION_SIGN = "\u00a7"
RFC_SECTION = re.compile(r"\bRFC \d+ " + SECTION_SIGN)

NOTEBOOK_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bsession \d+\b",  # "session 6's run", "at the end of session 4"
        r"\bsessions \d+ (?:and|to|or) \d+\b",  # "sessions 4 and 5"
        r"\bround \d+ of\b",  # "round 2 of the work"
        r"\bround of work\b",  # "what changed in this round of work"
        r"\btried and dropped\b",
        r"\btried, measured\b",
        r"\bissue #\d+\b",  # the tracker's numbering means nothing to a reader of the docs
    )
)

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _repository_text_files() -> Iterator[Path]:
    for name in SCANNED_DIRS:
        for path in sorted((ROOT / name).rglob("*")):
            if path.is_file() and _is_text(path) and "__pycache__" not in path.parts:
                yield path
    for path in sorted(ROOT.iterdir()):
        if path.is_file() and _is_text(path):
            yield path


def _is_text(path: Path) -> bool:
    return path.suffix in TEXT_SUFFIXES or (path.suffix == "" and path.name != ".gitignore")


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    """``(number, line)`` pairs of a text file; none for a file that is not UTF-8 text."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    return list(enumerate(text.splitlines(), 1))


def _user_pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _all_pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _without_code(markdown: str) -> str:
    """The text with fenced code blocks and inline code spans blanked out."""
    kept: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        marker = line.lstrip()[:3]
        if fence is None and marker in ("```", "~~~"):
            fence = marker
            kept.append("")
        elif fence is not None:
            if marker == fence:
                fence = None
            kept.append("")
        else:
            kept.append(re.sub(r"`[^`]*`", "``", line))
    return "\n".join(kept)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: plain text, lower case, punctuation dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for heading in HEADING.findall(_fenced_only_removed(page.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        anchors.add(slug if seen == 0 else f"{slug}-{seen}")
    return anchors


def _fenced_only_removed(markdown: str) -> str:
    """Fenced code blocks blanked out, inline code kept (headings may hold code)."""
    kept: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines():
        marker = line.lstrip()[:3]
        if fence is None and marker in ("```", "~~~"):
            fence = marker
        elif fence is not None and marker == fence:
            fence = None
        elif fence is None:
            kept.append(line)
    return "\n".join(kept)


def _relative_links(page: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every link on ``page`` that is not a URL with a scheme."""
    text = _without_code(page.read_text(encoding="utf-8"))
    links: list[tuple[int, str]] = []
    for pattern in (LINK, REFERENCE_LINK):
        for match in pattern.finditer(text):
            target = match.group(1)
            if not SCHEME.match(target):
                links.append((text.count("\n", 0, match.start()) + 1, target))
    return links


def _broken_link(page: Path, target: str) -> str | None:
    """Why ``target`` (a link on ``page``) leads nowhere, or ``None`` when it resolves."""
    path_part, _, anchor = target.partition("#")
    path_part = path_part.split("?", 1)[0]
    destination = (page.parent / path_part).resolve() if path_part else page
    if not destination.exists():
        return f"no such file: {_shown(destination)}"
    if anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
        return f"no heading with the anchor #{anchor} in {_shown(destination)}"
    return None


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _where(path: Path, line: int) -> str:
    return f"{_shown(path)}:{line}"


def test_nothing_cites_notes_the_repository_does_not_ship() -> None:
    found = [
        f"{_where(path, number)}: {line.strip()}"
        for path in _repository_text_files()
        for number, line in _numbered_lines(path)
        if any(name in line for name in UNSHIPPED)
    ]
    assert found == [], (
        "cite docs/protocol.md or the service's public documentation:\n" + "\n".join(found)
    )


def test_section_signs_only_cite_rfcs() -> None:
    found = [
        f"{_where(path, number)}: {line.strip()}"
        for path in _repository_text_files()
        for number, line in _numbered_lines(path)
        if line.count(SECTION_SIGN) > len(RFC_SECTION.findall(line))
    ]
    assert found == [], "a section of a document the repository does not ship:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "sentence",
    [
        "Session 6's last run, on a quiet stretch of the VM",
        "At the end of session 4 the quiet run read 1.45x.",
        "the work of sessions 4 and 5",
        "## What changed in this round of work",
        "Tried and dropped: pydantic's extra='ignore'.",
        "The benchmark for issue #5 puts agentkit beside a bare client.",
    ],
)
def test_the_notebook_patterns_catch_history(sentence: str) -> None:
    assert any(pattern.search(sentence) for pattern in NOTEBOOK_PATTERNS)


@pytest.mark.parametrize(
    "sentence",
    [
        "session.update carries session.type on every GA update.",
        "1,000 sessions x 1 round trip/s, 60 s: p99",
        "the server runs one tool round per session per second",
        "memory per idle session (tracemalloc, 200 sessions)",
        "Rounds of tool calls per user turn are capped at 8.",
        "A session has a maximum duration of 60 minutes.",
    ],
)
def test_the_notebook_patterns_spare_plain_text(sentence: str) -> None:
    assert not any(pattern.search(sentence) for pattern in NOTEBOOK_PATTERNS)


def test_user_docs_hold_no_lab_notebook() -> None:
    found = [
        f"{_where(page, number)}: {match.group(0)!r}"
        for page in _user_pages()
        for number, line in _numbered_lines(page)
        for pattern in NOTEBOOK_PATTERNS
        for match in pattern.finditer(line)
    ]
    assert found == [], "history of the work belongs in docs/dev/ or the git log:\n" + "\n".join(
        found
    )


def test_relative_links_resolve() -> None:
    broken = [
        f"{_where(page, line)}: ({target}) {reason}"
        for page in _all_pages()
        for line, target in _relative_links(page)
        if (reason := _broken_link(page, target)) is not None
    ]
    assert broken == [], "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    reached: set[Path] = set()
    queue = [README.resolve()]
    while queue:
        page = queue.pop()
        if page in reached:
            continue
        reached.add(page)
        for _, target in _relative_links(page):
            path_part = target.partition("#")[0].split("?", 1)[0]
            destination = (page.parent / path_part).resolve()
            if path_part.endswith(".md") and destination.is_file():
                queue.append(destination)
    unreached = sorted(_shown(p) for p in DOCS.rglob("*.md") if p.resolve() not in reached)
    assert unreached == [], "pages no link leads to: " + ", ".join(unreached)


def test_the_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#a-code-heading) [gone](missing.md) [bad](other.md#nowhere)\n"
        "`[not a link](missing.md)`\n```\n[in code](missing.md)\n```\n",
        encoding="utf-8",
    )
    results = {target: _broken_link(page, target) for _, target in _relative_links(page)}
    assert results["other.md#a-code-heading"] is None
    assert results["missing.md"] is not None
    assert results["other.md#nowhere"] is not None
    assert len(results) == 3
