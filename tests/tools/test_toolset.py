"""Toolset: ordered, immutable, unique names."""

from __future__ import annotations

import pytest

from agentkit.errors import ToolDefinitionError
from agentkit.tools import Tool, Toolset, tool


@tool
def alpha(x: int) -> int:
    """First."""
    return x


@tool(name="beta")
async def second(y: str) -> str:
    """Second."""
    return y


def gamma() -> None:
    """A plain function."""


def test_order_lookup_and_membership() -> None:
    tools = Toolset([alpha, second, gamma])
    assert tools.names == ("alpha", "beta", "gamma")
    assert len(tools) == 3
    assert [t.name for t in tools] == ["alpha", "beta", "gamma"]
    assert tools.get("beta") is second and tools.get("nope") is None
    assert "alpha" in tools and alpha in tools and "nope" not in tools and 3 not in tools
    assert isinstance(tools.get("gamma"), Tool)
    assert tool(alpha.func) not in tools  # another tool with the same name is not a member
    assert repr(tools) == "Toolset([alpha, beta, gamma])"


def test_schemas_in_order() -> None:
    tools = Toolset([second, alpha])
    assert tools.schemas() == [second.schema(), alpha.schema()]
    assert Toolset().schemas() == []


def test_duplicate_names_raise() -> None:
    with pytest.raises(ToolDefinitionError) as caught:
        Toolset([alpha, tool(name="alpha")(gamma)])
    assert (
        str(caught.value)
        == "cannot make a tool from alpha(): duplicate tool name 'alpha' in a Toolset"
    )


def test_the_same_tool_twice_counts_once() -> None:
    assert Toolset([alpha, alpha]).names == ("alpha",)


def test_derived_sets_leave_the_original_alone() -> None:
    base = Toolset([alpha])
    more = base.with_tools(second, gamma)
    assert base.names == ("alpha",)
    assert more.names == ("alpha", "beta", "gamma")
    assert base.merge(Toolset([second, alpha])).names == ("alpha", "beta")
    assert more.without("beta", "missing").names == ("alpha", "gamma")
    with pytest.raises(ToolDefinitionError):
        base.with_tools(tool(name="alpha")(gamma))


def test_single_tool_instead_of_iterable_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match=r"Toolset\(\[get_weather\]\)"):
        Toolset(alpha)  # type: ignore[arg-type]


def test_is_immutable() -> None:
    tools = Toolset([alpha])
    with pytest.raises(AttributeError):
        tools.extra = 1  # type: ignore[attr-defined]
