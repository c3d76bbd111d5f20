"""Checked by mypy (see test_typing.py), never imported by pytest: ``@tool`` keeps signatures.

Each ``assert_type`` must hold and each ``# type: ignore[...]`` line must really be an error
(``warn_unused_ignores`` is on under ``--strict``), so a decorator that erased the signature to
``Callable[..., Any]`` would fail this file in both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from typing_extensions import assert_type

from agentkit.tools import Tool, ToolContext, ToolResult, Toolset, tool


@tool
def get_weather(city: str, days: int = 1) -> dict[str, int]:
    return {city: days}


@tool(name="lookup", timeout=2.5, strict=True)
async def lookup(key: str, ctx: ToolContext[list[str]]) -> str:
    assert_type(ctx.deps, list[str])
    return key


async def checks(context: ToolContext) -> None:
    as_callable: Callable[[str, int], dict[str, int]] = get_weather
    wrong_callable: Callable[[int], dict[str, int]] = get_weather  # type: ignore[assignment]
    assert_type(get_weather("Paris"), dict[str, int])
    assert_type(get_weather("Paris", days=2), dict[str, int])
    get_weather(3)  # type: ignore[arg-type]
    get_weather("Paris", weeks=1)  # type: ignore[call-arg]
    pending = lookup("k", context)
    same = assert_type(pending, Coroutine[Any, Any, str])
    same.close()
    assert_type(await lookup("k", context), str)
    assert_type(get_weather.name, str)
    assert_type(get_weather.timeout, float | None)
    assert_type(get_weather.schema(), dict[str, Any])
    assert_type(await get_weather.invoke("{}", context), ToolResult)
    assert_type(context.deps, Any)
    del as_callable, wrong_callable
    tools = Toolset([get_weather, lookup])
    assert_type(tools.get("lookup"), Tool[..., Any] | None)
