"""agentkit depends on the public OpenTelemetry API only, and tracing does not import the session.

The import checks read the source (every import, ``TYPE_CHECKING`` blocks included), so a private
import or an import circle fails here before any SDK update or import order can expose it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support import TIMEOUT

PACKAGE = Path(__file__).resolve().parents[2] / "agentkit"


def _modules() -> dict[str, Path]:
    """Every module of agentkit by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported(path: Path, *, at_runtime: bool = False) -> list[tuple[str, list[str]]]:
    """(module, names) for every import statement in ``path``; with ``at_runtime``, those
    outside ``if TYPE_CHECKING:`` blocks only."""
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    if at_runtime:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(inner) for part in node.body for inner in ast.walk(part))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _private_otel(module: str, names: list[str]) -> list[str]:
    if module.split(".")[0] != "opentelemetry":
        return []
    dotted = [module, *(f"{module}.{name}" for name in names)]
    return [name for name in dotted if any(part.startswith("_") for part in name.split("."))]


def _private_attributes(source: str) -> list[str]:
    """``metrics._internal`` and the like: a private attribute of a name bound to OpenTelemetry,
    or a dotted OpenTelemetry path with a private part in a string (``importlib`` style)."""
    tree = ast.parse(source)
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                if (module or alias.name).split(".")[0] == "opentelemetry":
                    bound.add((alias.asname or alias.name).split(".")[0])
    found = re.findall(r"opentelemetry(?:\.\w+)*\._\w+", source)
    for node in ast.walk(tree):
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        if isinstance(root, ast.Name) and root.id in bound:
            found += [f"{root.id}.{attr}" for attr in chain if attr.startswith("_")]
    return found


def test_no_module_of_agentkit_reaches_into_private_opentelemetry_modules() -> None:
    offenders = []
    for name, path in _modules().items():
        for module, names in _imported(path):
            offenders += [f"{name}: {found}" for found in _private_otel(module, names)]
        offenders += [f"{name}: {found}" for found in _private_attributes(path.read_text())]
    assert offenders == []


def test_the_scan_sees_private_uses() -> None:
    assert _private_otel("opentelemetry.metrics", ["_internal"]) == [
        "opentelemetry.metrics._internal"
    ]
    assert _private_otel("opentelemetry.metrics._internal", ["X"]) != []
    assert _private_otel("opentelemetry.metrics", ["NoOpMeterProvider"]) == []
    uses = "from opentelemetry import metrics\nmetrics._internal._ProxyMeterProvider\n"
    assert set(_private_attributes(uses)) == {"metrics._ProxyMeterProvider", "metrics._internal"}
    assert _private_attributes("import_module('opentelemetry.metrics._internal')") != []
    assert _private_attributes("self._internal_error()\nmetrics.get_meter_provider()") == []


def _reachable(start: str) -> set[str]:
    """agentkit modules that importing ``start`` runs, from the source: every import statement
    outside ``TYPE_CHECKING`` counts, and a submodule runs its parent packages' ``__init__``
    (the root's aside: any ``agentkit.x`` runs it, so only ``from agentkit import`` follows it)."""
    modules = _modules()
    seen, todo = {start}, [start]
    while todo:
        for module, names in _imported(modules[todo.pop()], at_runtime=True):
            if module.split(".")[0] != "agentkit":
                continue
            targets = [f"{module}.{name}" for name in names if f"{module}.{name}" in modules]
            if len(targets) < len(names) or not names:
                targets.append(module)  # names defined in the module itself
            parts = module.split(".")
            targets += [".".join(parts[:end]) for end in range(2, len(parts))]
            for target in targets:
                if target in modules and target not in seen:
                    seen.add(target)
                    todo.append(target)
    return seen


def test_tracing_does_not_import_the_session() -> None:
    """Not even for type checking (it reads the session through ``TracedSession``), and no
    module it imports brings the session in when it runs."""
    modules = _modules()
    tracing_modules = ["agentkit.tracing"]
    tracing_modules += [name for name in modules if name.startswith("agentkit._tracing")]
    for start in tracing_modules:
        imported = [module for module, _ in _imported(modules[start])]
        assert "agentkit.session" not in imported, start
        assert "agentkit.session" not in _reachable(start), start
    assert "agentkit.tracing" in _reachable("agentkit.session")  # the direction that stays


def test_the_import_walk_finds_a_circle_through_the_package(tmp_path: Path) -> None:
    assert "agentkit.session" in _reachable("agentkit")
    assert "agentkit.session" in _reachable("agentkit.runner")
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import agentkit.session\n"
    path = tmp_path / "guarded.py"
    path.write_text(guarded)
    assert _imported(path) == [("typing", ["TYPE_CHECKING"]), ("agentkit.session", [])]
    assert _imported(path, at_runtime=True) == [("typing", ["TYPE_CHECKING"])]


_LATE_SDK = textwrap.dedent(
    """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    from agentkit.agent import Agent
    from agentkit.protocol.dialects import Dialect
    from agentkit.session import Session
    from agentkit.tracing import NO_TRACING, SessionTracer

    async def never():
        raise AssertionError("not connected")

    def session():
        return Session(Agent(), connector=never, dialect=Dialect.GA)

    before = session()
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    metrics_only = session()
    trace.set_tracer_provider(TracerProvider())
    both = session()
    print(before._tracing is NO_TRACING, len(before._handlers))
    for later in (metrics_only, both):
        print(isinstance(later._tracing, SessionTracer), len(later._handlers) > 0)
    """
)


def test_global_providers_are_looked_up_when_a_session_is_created() -> None:
    """In a fresh interpreter, where the globals are the API's proxies until set: a session made
    before the SDK is set pays nothing and records nothing, one made after traces."""
    result = subprocess.run(
        [sys.executable, "-c", _LATE_SDK],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 6,
        check=True,
    )
    assert result.stdout.split("\n")[:3] == ["True 0", "True True", "True True"]
