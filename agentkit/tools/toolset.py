"""``Toolset``: the ordered set of tools an agent declares and the dispatcher looks calls up in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agentkit.errors import ToolDefinitionError
from agentkit.tools.decorator import Tool, tool

__all__ = ["ToolLike", "Toolset"]

ToolLike = Tool[..., Any] | Callable[..., Any]
"""A :class:`Tool`, or a plain function that will be wrapped with ``@tool``."""


class Toolset:
    """An ordered, immutable collection of tools with unique names.

    Order is kept because it is the order of ``session.tools`` (stable snapshots, stable prompt
    caching). "Changing" a set makes a new one, so a set shared by several sessions cannot be
    altered under them.

    Example:
        >>> tools = Toolset([get_weather, book_table])      # doctest: +SKIP
        >>> tools.get("get_weather").schema()                # doctest: +SKIP
    """

    __slots__ = ("_tools",)

    def __init__(self, tools: Iterable[ToolLike] = ()) -> None:
        """Collect ``tools``; plain functions are wrapped with ``@tool``.

        Raises:
            ToolDefinitionError: two tools share a name (or a function cannot be a tool).
            TypeError: a single tool was passed instead of an iterable of tools.
        """
        if callable(tools):
            raise TypeError("Toolset takes an iterable of tools, e.g. Toolset([get_weather])")
        by_name: dict[str, Tool[..., Any]] = {}
        for item in tools:
            t = item if isinstance(item, Tool) else tool(item)
            if t.name in by_name and by_name[t.name] is not t:
                message = f"duplicate tool name {t.name!r} in a Toolset"
                raise ToolDefinitionError(t.name, message)
            by_name[t.name] = t
        self._tools = by_name

    def get(self, name: str) -> Tool[..., Any] | None:
        """The tool the model calls ``name``, or ``None`` (the dispatcher's "unknown_tool")."""
        return self._tools.get(name)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Tool):
            return self._tools.get(item.name) is item
        return isinstance(item, str) and item in self._tools

    def __iter__(self) -> Iterator[Tool[..., Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"Toolset([{', '.join(self.names)}])"

    @property
    def names(self) -> tuple[str, ...]:
        """The tool names, in order."""
        return tuple(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The ``session.tools`` list: each tool's :meth:`Tool.schema`, in order."""
        return [t.schema() for t in self]

    def with_tools(self, *tools: ToolLike) -> Toolset:
        """A new set with ``tools`` appended (``with`` is a Python keyword, hence the name).

        Raises:
            ToolDefinitionError: a new tool's name is already taken.
        """
        return Toolset([*self, *tools])

    def merge(self, other: Iterable[ToolLike]) -> Toolset:
        """A new set with the tools of ``other`` appended; the same tool twice is kept once."""
        return Toolset([*self, *other])

    def without(self, *names: str) -> Toolset:
        """A new set without the named tools (names not present are ignored)."""
        return Toolset([t for t in self if t.name not in names])
