"""Find the tools a Python file defines (for ``agentkit tools FILE``)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from agentkit.tools.decorator import Tool
from agentkit.tools.toolset import Toolset

__all__ = ["collect_tools", "load_module", "load_tools"]


def load_tools(path: str | Path) -> Toolset:
    """Import the file at ``path`` and collect its module-level tools.

    Raises:
        FileNotFoundError: there is no such file.
        ToolDefinitionError: two different tools share a name (or a tool is ill-defined).
        Exception: whatever importing the file raises.
    """
    return collect_tools(vars(load_module(path)))


def load_module(path: str | Path) -> ModuleType:
    """Import a Python file by path, with its directory importable (for sibling modules)."""
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = f"_agentkit_loaded_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python module: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pydantic resolve annotations through it
    sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(str(file.parent))
    return module


def collect_tools(namespace: Mapping[str, Any]) -> Toolset:
    """Every :class:`Tool` in ``namespace``, plus the tools of each :class:`Toolset` and of each
    object whose ``tools`` attribute is a ``Toolset`` (an agent), in definition order.

    The same tool reached twice (defined, then listed in an agent) counts once.
    """
    return Toolset(_tools_in(namespace.values()))


def _tools_in(values: Any) -> Iterator[Tool[..., Any]]:
    for value in values:
        if isinstance(value, Tool):
            yield value
        elif isinstance(value, Toolset):
            yield from value
        elif isinstance(_tools_attribute(value), Toolset):
            yield from _tools_attribute(value)


def _tools_attribute(value: Any) -> Any:
    try:
        return getattr(value, "tools", None)
    except Exception:  # a property that fails is not our business here
        return None
