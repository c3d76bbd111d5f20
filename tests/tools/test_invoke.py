"""Calling tools: threads vs the loop, argument delivery, return values, exceptions, context."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import functools
import inspect
import json
import logging
import threading
import uuid
from collections.abc import Awaitable
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from agentkit.tools import ToolContext, ToolResult, tool
from tests.support import TIMEOUT


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    number: int = 1


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Filters(TypedDict):
    text: str


@dataclasses.dataclass
class Deps:
    user_id: str


def ctx(**changes: Any) -> ToolContext[Any]:
    return ToolContext(call_id="call_1", tool_name="t", **changes)


def error_of(result: ToolResult) -> dict[str, str]:
    assert result.is_error
    error: dict[str, str] = json.loads(result.output)["error"]
    assert error["type"] == result.error_type
    return error


# --- where the function runs ------------------------------------------------------------------


async def test_sync_tool_runs_in_a_worker_thread() -> None:
    @tool
    def where() -> int:
        return threading.get_ident()

    result = await where.invoke("{}", ctx())
    assert int(result.output) != threading.get_ident()


async def test_async_tool_runs_on_the_event_loop() -> None:
    loop = asyncio.get_running_loop()

    @tool
    async def where() -> bool:
        return asyncio.get_running_loop() is loop and threading.get_ident() == main_thread

    main_thread = threading.get_ident()
    assert (await where.invoke("{}", ctx())).output == "true"


async def test_blocking_sync_tool_does_not_block_the_loop() -> None:
    release = threading.Event()

    @tool
    def blocking() -> str:
        release.wait(TIMEOUT)
        return "done"

    call = asyncio.ensure_future(blocking.invoke("{}", ctx()))
    await asyncio.sleep(0)  # the loop is free to run this line while the tool blocks
    assert not call.done()
    release.set()
    assert (await asyncio.wait_for(call, TIMEOUT)).output == "done"


async def test_async_callable_object_is_awaited_on_the_loop() -> None:
    class Lookup:
        __name__ = "lookup"

        async def __call__(self, key: str) -> str:
            return key.upper()

    assert (await tool(Lookup()).invoke('{"key": "a"}', ctx())).output == "A"


async def test_sync_function_returning_an_awaitable_is_awaited() -> None:
    async def later() -> str:
        return "later"

    @tool
    def wrapper() -> Awaitable[str]:
        return later()

    assert (await wrapper.invoke("{}", ctx())).output == "later"


# --- arguments reach the function ------------------------------------------------------------


async def test_values_arrive_as_real_types() -> None:
    seen: dict[str, Any] = {}

    @tool
    def rich(
        address: Address,
        point: Point,
        filters: Filters,
        color: Color,
        when: dt.datetime,
        ref: uuid.UUID,
        ids: set[int],
        pair: tuple[int, str],
    ) -> None:
        seen.update(address=address, point=point, filters=filters, color=color)
        seen.update(when=when, ref=ref, ids=ids, pair=pair)

    arguments = {
        "address": {"street": "Main"},
        "point": {"x": 1.5},
        "filters": {"text": "hi"},
        "color": "green",
        "when": "2026-01-02T03:04:05Z",
        "ref": "12345678-1234-5678-1234-567812345678",
        "ids": [3, 1, 3],
        "pair": [7, "x"],
    }
    assert not (await rich.invoke(json.dumps(arguments), ctx())).is_error
    assert seen == {
        "address": Address(street="Main", number=1),
        "point": Point(1.5, 0.0),
        "filters": {"text": "hi"},
        "color": Color.GREEN,
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "ref": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "ids": {1, 3},
        "pair": (7, "x"),
    }
    assert isinstance(seen["color"], Color)


async def test_omitted_arguments_keep_the_functions_own_defaults() -> None:
    sentinel: list[int] = []

    @tool
    def f(a: int, items: list[int] = sentinel, label: str = "x") -> bool:
        return items is sentinel and label == "x"

    assert (await f.invoke('{"a": 1}', ctx())).output == "true"


async def test_parameter_kinds_are_passed_the_right_way() -> None:
    @tool
    def kinds(a: int, /, b: int = 2, *, c: int = 3) -> list[int]:
        return [a, b, c]

    assert (await kinds.invoke('{"a": 1, "c": 30}', ctx())).output == "[1,2,30]"


async def test_positional_only_default_is_passed_when_omitted() -> None:
    @tool
    def kinds(a: int = 5, /, *, b: int = 1) -> list[int]:
        return [a, b]

    assert (await kinds.invoke('{"b": 2}', ctx())).output == "[5,2]"


async def test_reserved_parameter_names_are_delivered() -> None:
    @tool
    def reserved(
        json: str, model_id: int, param_0: int, schema: bool = False, _hidden: int = 0
    ) -> list[Any]:
        return [json, model_id, param_0, schema, _hidden]

    arguments = '{"json": "j", "model_id": 4, "param_0": 5, "schema": true, "_hidden": 9}'
    assert (await reserved.invoke(arguments, ctx())).output == '["j",4,5,true,9]'
    assert list(reserved.schema()["parameters"]["properties"]) == [
        "json",
        "model_id",
        "param_0",
        "schema",
        "_hidden",
    ]


async def test_empty_arguments_string_means_no_arguments() -> None:
    @tool
    def ping(reply: str = "pong") -> str:
        return reply

    assert (await ping.invoke("", ctx())).output == "pong"
    assert (await ping.invoke("  ", ctx())).output == "pong"


async def test_lenient_mode_coerces_and_ignores_unknown_arguments() -> None:
    @tool
    def add(a: int, b: int) -> int:
        return a + b

    assert (await add.invoke('{"a": "2", "b": 3, "c": 9}', ctx())).output == "5"


async def test_strict_mode_rejects_coercion_and_unknown_arguments() -> None:
    @tool(strict=True)
    def add(a: int, b: int) -> int:
        return a + b

    error = error_of(await add.invoke('{"a": "2", "b": 3, "c": 9}', ctx()))
    assert error["message"] == (
        'invalid arguments for add: a: input should be a valid integer (got "2"); '
        "c: unexpected argument"
    )
    assert (await add.invoke('{"a": 2, "b": 3}', ctx())).output == "5"


async def test_literal_argument() -> None:
    @tool
    def convert(unit: Literal["c", "f"]) -> str:
        return unit

    assert (await convert.invoke('{"unit": "f"}', ctx())).output == "f"


# --- context injection -----------------------------------------------------------------------


async def test_context_is_injected_and_not_in_the_schema() -> None:
    @tool
    def whoami(greeting: str, context: ToolContext[Deps]) -> str:
        return f"{greeting} {context.deps.user_id} ({context.call_id}, {context.tool_name})"

    assert list(whoami.schema()["parameters"]["properties"]) == ["greeting"]
    result = await whoami.invoke('{"greeting": "hi"}', ctx(deps=Deps("u7")))
    assert result.output == "hi u7 (call_1, t)"


async def test_context_object_is_passed_as_is_even_positionally() -> None:
    received: list[object] = []

    @tool
    async def grab(context: ToolContext, /, n: int = 0) -> None:
        received.append(context)

    context = ctx(session="S", agent="A")
    await grab.invoke("{}", context)
    assert received == [context]
    assert (context.session, context.agent, context.deps) == ("S", "A", None)


async def test_model_cannot_supply_the_context() -> None:
    @tool
    def f(context: ToolContext) -> str:
        return context.call_id

    assert (await f.invoke('{"context": "forged"}', ctx())).output == "call_1"


async def test_report_progress_calls_the_callback() -> None:
    messages: list[str] = []

    async def on_progress(message: str) -> None:
        messages.append(message)

    @tool
    async def slow(context: ToolContext) -> str:
        await context.report_progress("halfway")
        return "ok"

    assert (await slow.invoke("{}", ctx(progress_callback=on_progress))).output == "ok"
    assert messages == ["halfway"]


async def test_report_progress_without_callback_is_a_no_op() -> None:
    await ctx().report_progress("nobody listens")


# --- return values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "output"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (None, ""),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        ([1, "two"], '[1,"two"]'),
        (42, "42"),
        (2.5, "2.5"),
        (False, "false"),
        (Address(street="Main"), '{"street":"Main","number":1}'),
        (Point(1.0, 2.0), '{"x":1.0,"y":2.0}'),
        (dt.date(2026, 3, 4), '"2026-03-04"'),
        (Color.RED, "red"),
        ({"nested": Address(street="x", number=2)}, '{"nested":{"street":"x","number":2}}'),
        ("ünïcode ✓", "ünïcode ✓"),
    ],
)
async def test_return_values_are_serialized(value: object, output: str) -> None:
    @tool
    def give() -> object:
        return value

    assert await give.invoke("{}", ctx()) == ToolResult(output)


async def test_a_tool_can_return_a_tool_result() -> None:
    @tool
    async def hang_up() -> ToolResult:
        return ToolResult("bye", respond=False)

    assert await hang_up.invoke("{}", ctx()) == ToolResult("bye", respond=False)


async def test_a_tool_can_return_an_error_result() -> None:
    @tool
    def refuse() -> ToolResult:
        return ToolResult.error("not allowed", error_type="forbidden")

    result = await refuse.invoke("{}", ctx())
    assert error_of(result) == {"type": "forbidden", "message": "not allowed"}


async def test_a_return_value_without_json_form_is_a_tool_error() -> None:
    @tool
    def weird() -> object:
        return object()

    assert error_of(await weird.invoke("{}", ctx())) == {
        "type": "tool_error",
        "message": "weird failed: TypeError: return value of type object has no JSON form",
    }


# --- exceptions ------------------------------------------------------------------------------


async def test_exception_becomes_an_error_output_and_a_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @tool
    def lookup(city: str) -> str:
        raise LookupError(f"unknown city {city!r}")

    with caplog.at_level(logging.ERROR, logger="agentkit.tools"):
        result = await lookup.invoke('{"city": "Atlantis"}', ctx())
    assert error_of(result) == {
        "type": "tool_error",
        "message": "lookup failed: LookupError: unknown city 'Atlantis'",
    }
    assert "Traceback" not in result.output
    assert caplog.records[0].exc_info is not None  # the traceback is in the log only
    assert caplog.records[0].getMessage() == "tool lookup raised"


async def test_async_exception_without_message() -> None:
    @tool
    async def boom() -> None:
        raise RuntimeError

    assert error_of(await boom.invoke("{}", ctx()))["message"] == "boom failed: RuntimeError"


async def test_error_message_can_be_fixed_text() -> None:
    @tool(error_message="the booking system is unavailable, apologise to the user")
    def book() -> None:
        raise ConnectionError("db at 10.0.0.3:5432 refused password=...")

    message = error_of(await book.invoke("{}", ctx()))["message"]
    assert message == "book failed: the booking system is unavailable, apologise to the user"


async def test_error_message_can_be_computed_and_a_broken_builder_falls_back() -> None:
    @tool(error_message=lambda exc: f"try again ({type(exc).__name__})")
    def flaky() -> None:
        raise TimeoutError

    assert (
        error_of(await flaky.invoke("{}", ctx()))["message"]
        == "flaky failed: try again (TimeoutError)"
    )

    def broken(exc: Exception) -> str:
        raise ValueError("bug in the builder")

    @tool(error_message=broken)
    def also_flaky() -> None:
        raise KeyError("k")

    message = error_of(await also_flaky.invoke("{}", ctx()))["message"]
    assert message == "also_flaky failed: KeyError: 'k'"


async def test_cancellation_propagates() -> None:
    started = asyncio.Event()

    @tool
    async def forever() -> None:
        started.set()
        await asyncio.sleep(TIMEOUT * 10)

    call = asyncio.ensure_future(forever.invoke("{}", ctx()))
    await asyncio.wait_for(started.wait(), TIMEOUT)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


# --- the decorated object --------------------------------------------------------------------


def test_decorated_function_is_still_callable_and_introspectable() -> None:
    def original(city: str, days: int = 1) -> str:
        """Forecast."""
        return f"{city}:{days}"

    t = tool(timeout=2.5)(original)
    assert t("Paris", days=2) == "Paris:2"
    assert t.__name__ == "original" and t.__doc__ == "Forecast."
    assert t.__wrapped__ is original and t.func is original
    assert inspect.signature(t) == inspect.signature(original)
    assert (t.name, t.description, t.timeout, t.strict) == ("original", "Forecast.", 2.5, False)
    assert repr(t).startswith("<Tool 'original' wrapping <function")


async def test_decorated_async_function_returns_a_coroutine() -> None:
    @tool
    async def double(x: int) -> int:
        return 2 * x

    assert await double(4) == 8
    assert double.timeout is None


def test_retooling_a_tool_wraps_the_original_function() -> None:
    @tool
    def f(x: int) -> int:
        return x

    g = tool(name="g", timeout=1)(f)
    assert g.func is f.func and g.name == "g" and f.name == "f"


async def test_bound_methods_and_partials_become_tools() -> None:
    class Store:
        def lookup(self, key: str) -> str:
            """Look a key up."""
            return key * 2

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    method = tool(Store().lookup)
    assert method.schema()["parameters"]["required"] == ["key"]
    assert (await method.invoke('{"key": "a"}', ctx())).output == "aa"
    partial = tool(name="add_two")(functools.partial(add, b=2))
    assert partial.description == "Add two numbers."
    assert (await partial.invoke('{"a": 1}', ctx())).output == "3"
