"""docs/reference.md and the public modules' exports cannot drift apart.

The public API is what ``agentkit``, ``agentkit.events``, ``agentkit.testing``,
``agentkit.audio`` and ``agentkit.mcp`` export. The reference must list every exported name in
its module's section, name nothing as public that is not exported, list every ``SessionOptions`` and
``ReconnectPolicy`` field with its true default, every public member of the central classes,
and draw the error tree as the classes really inherit.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

import agentkit
from agentkit import AgentkitError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"
PUBLIC_MODULES = (
    "agentkit",
    "agentkit.events",
    "agentkit.testing",
    "agentkit.audio",
    "agentkit.mcp",
    "agentkit.background",
    "agentkit.background.celery",
    "agentkit.background.redis",
)

# Named in the reference in code, on purpose, though no public module exports them: the
# internal type behind `Session.state`, and the wire event names of the protocol.
INTERNAL_MENTIONS = frozenset({"ConversationState"})

CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `Agent(...)`, `ToolContext[Deps]`, `Endpoint.azure`, `Usage`, `@tool`: not `Retry-After`.
CLAIM = re.compile(r"@?([A-Z][A-Za-z0-9_]*)(?=$|[(\[.\s,])")


def _text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def _sections(text: str, level: str) -> dict[str, str]:
    """Heading text (backticks stripped) -> the text up to the next heading of that level."""
    parts = re.split(rf"^{level} (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip().strip("`"): parts[i + 1] for i in range(1, len(parts), 2)}


def _code(text: str) -> list[str]:
    """Every inline code span and fenced block of ``text``."""
    return CODE_SPAN.findall(FENCE.sub("", text)) + FENCE.findall(text)


def _identifiers(text: str) -> set[str]:
    return {name for code in _code(text) for name in IDENTIFIER.findall(code)}


def _module_sections() -> dict[str, str]:
    sections = _sections(_text(), "##")
    return {name: sections[name] for name in PUBLIC_MODULES}


def _exports(name: str) -> list[str]:
    module: ModuleType = importlib.import_module(name)
    return list(module.__all__)


def _class_section(name: str) -> str:
    return _sections(_module_sections()["agentkit"], "###")[name]


def test_the_reference_names_the_public_modules() -> None:
    sections = _sections(_text(), "##")
    assert set(PUBLIC_MODULES) <= set(sections)
    intro = _text().split("\n## ", 1)[0]
    assert all(f"`{module}`" in intro for module in PUBLIC_MODULES)


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_export_is_documented_in_its_section(module: str) -> None:
    documented = _identifiers(_module_sections()[module])
    missing = [name for name in _exports(module) if name not in documented]
    assert missing == [], f"exported by {module} but not in its section of reference.md"


def test_every_documented_class_is_exported() -> None:
    """A capitalised name at the start of a code span is a claim that users may import it."""
    exported = {name for module in PUBLIC_MODULES for name in _exports(module)}
    claimed = {
        found.group(1)
        for code in CODE_SPAN.findall(FENCE.sub("", _text()))
        if (found := CLAIM.match(code))
    }
    unknown = sorted(
        name
        for name in claimed - exported - INTERNAL_MENTIONS
        if not hasattr(builtins, name) and not name.isupper()  # True, None, GA...
    )
    assert unknown == [], "reference.md names these as API, but no public module exports them"


@pytest.mark.parametrize("options", [agentkit.SessionOptions, agentkit.ReconnectPolicy])
def test_every_options_field_is_listed_with_its_default(options: type) -> None:
    rows: dict[str, str] = {}
    for line in _class_section(options.__name__).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            names = CODE_SPAN.findall(cells[0])
            defaults = CODE_SPAN.findall(cells[1]) or [cells[1]] * len(names)
            rows.update(zip(names, defaults, strict=True))
    for field in dataclasses.fields(options):
        assert field.name in rows, f"{options.__name__}.{field.name} is not in reference.md"
        if field.default is dataclasses.MISSING:
            continue
        written = rows[field.name]
        assert ast.literal_eval(written.replace("_", "")) == field.default, field.name


@pytest.mark.parametrize(
    ("cls", "section"),
    [
        (agentkit.Session, "Session"),
        (agentkit.Agent, "Agent"),
        (agentkit.Answer, "Answer"),
        (agentkit.ToolCall, "Answer"),
        (agentkit.HistoryItem, "HistoryItem"),
        (agentkit.Approval, "Approval"),
        (agentkit.ToolCallRequest, "Approval"),
        (agentkit.ToolContext, "Tools"),
        (agentkit.Tool, "Tools"),
        (agentkit.Toolset, "Tools"),
        (agentkit.Endpoint, "Endpoint"),
        (agentkit.ReconnectPolicy, "ReconnectPolicy"),
    ],
)
def test_every_public_member_of_a_core_class_is_documented(cls: type, section: str) -> None:
    documented = _identifiers(_class_section(section))
    missing = sorted(name for name in _public_members(cls) if name not in documented)
    assert missing == [], f"{cls.__name__} members missing from the {section} section"


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("Simulator", "Simulator"),
        ("Scenario", "Scenario"),
        ("Turn", "Scenario"),
        ("ToolOutputs", "Scenario"),
        ("ToolOutput", "Scenario"),
    ],
)
def test_every_public_member_of_a_testing_class_is_documented(name: str, section: str) -> None:
    cls = getattr(importlib.import_module("agentkit.testing"), name)
    documented = _identifiers(_sections(_module_sections()["agentkit.testing"], "###")[section])
    missing = sorted(member for member in _public_members(cls) if member not in documented)
    assert missing == [], f"{name} members missing from the {section} section"


def test_the_error_tree_is_the_class_tree() -> None:
    (tree,) = FENCE.findall(_class_section("Errors"))
    parents: list[tuple[int, type]] = []
    drawn: set[type] = set()
    for line in tree.splitlines():
        found = re.search(r"[A-Za-z]+Error", line)
        if found is None:
            continue
        cls = getattr(agentkit, found.group())
        while parents and parents[-1][0] >= found.start():
            parents.pop()
        if parents:
            assert cls.__bases__[0] is parents[-1][1], f"{cls.__name__} is drawn under the wrong"
        drawn.add(cls)
        parents.append((found.start(), cls))
    assert drawn == _agentkit_errors()


def test_every_error_agentkit_defines_is_exported() -> None:
    exported = {getattr(agentkit, name) for name in agentkit.__all__}
    assert _agentkit_errors() <= exported


def test_the_guides_and_examples_import_only_the_public_modules() -> None:
    """What users copy must not reach past the boundary (``docs/dev`` is for contributors)."""
    imports = re.compile(
        r"^\s*(?:from\s+(agentkit[\w.]*)\s+import|import\s+(agentkit[\w.]*))", re.M
    )
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").rglob("*.py")]
    internal = [
        f"{page.relative_to(ROOT)}: {module}"
        for page in pages
        for found in imports.finditer(page.read_text(encoding="utf-8"))
        if (module := found.group(1) or found.group(2)) not in PUBLIC_MODULES
    ]
    assert internal == []


def _agentkit_errors() -> set[type]:
    for module in PUBLIC_MODULES:
        importlib.import_module(module)
    found: set[type] = set()
    pending: list[type] = [AgentkitError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("agentkit") and cls not in found:
            found.add(cls)
            pending.extend(cls.__subclasses__())
    return found


def _public_members(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("agentkit"):
            names |= {name for name in vars(klass) if not name.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {field.name for field in dataclasses.fields(cls) if not field.name.startswith("_")}
    return names
