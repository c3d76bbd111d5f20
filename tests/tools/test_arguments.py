"""What the model is told when its arguments are wrong: short, specific, no traceback or URL."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from agentkit.tools import ToolContext, tool
from agentkit.tools.arguments import InvalidArgumentsError, bind_arguments


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Item(BaseModel):
    sku: str
    quantity: Annotated[int, Field(gt=0)] = 1


class Order(BaseModel):
    items: list[Item]


@tool
def get_weather(city: str, days: Annotated[int, Field(ge=1, le=14)] = 1) -> str:
    return city


@tool
def shapes(
    color: Color = Color.RED,
    unit: Literal["c", "f"] = "c",
    code: Annotated[str, Field(min_length=2, max_length=3, pattern="^[A-Z]+$")] = "AB",
    tags: Annotated[list[str], Field(max_length=2)] = [],  # noqa: B006 - never mutated
    order: Order | None = None,
    ratio: Annotated[float, Field(multiple_of=0.5)] = 0.5,
) -> str:
    return "ok"


async def message_for(arguments: str, t: object = None) -> str:
    target = t or get_weather
    result = await target.invoke(arguments, ToolContext("c", "t"))  # type: ignore[attr-defined]
    assert result.is_error and result.error_type == "invalid_arguments"
    error = json.loads(result.output)["error"]
    assert error["type"] == "invalid_arguments"
    message: str = error["message"]
    assert "Traceback" not in message and "http" not in message and "pydantic" not in message
    return message


async def test_missing_and_out_of_range_arguments() -> None:
    assert await message_for('{"days": 30}') == (
        "invalid arguments for get_weather: city: field required; days: must be <= 14 (got 30)"
    )


async def test_lower_bound_and_wrong_type() -> None:
    assert await message_for('{"city": 3, "days": 0}') == (
        "invalid arguments for get_weather: city: input should be a valid string (got 3); "
        "days: must be >= 1 (got 0)"
    )


async def test_invalid_json() -> None:
    assert await message_for('{"city": "Paris",') == (
        "invalid arguments for get_weather: not valid JSON "
        "(EOF while parsing a value at line 1 column 17)"
    )


@pytest.mark.parametrize(("arguments", "got"), [("[1, 2]", "[1, 2]"), ('"Paris"', '"Paris"')])
async def test_arguments_must_be_an_object(arguments: str, got: str) -> None:
    assert await message_for(arguments) == (
        f"invalid arguments for get_weather: arguments must be a JSON object (got {got})"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"color": "blue"}', "color: must be 'red' or 'green' (got \"blue\")"),
        ('{"unit": "k"}', "unit: must be 'c' or 'f' (got \"k\")"),
        ('{"code": "A"}', 'code: must have at least 2 characters (got "A")'),
        ('{"code": "ABCD"}', 'code: must have at most 3 characters (got "ABCD")'),
        ('{"code": "ab"}', 'code: must match the pattern ^[A-Z]+$ (got "ab")'),
        ('{"tags": ["a", "b", "c"]}', 'tags: must have at most 2 items (got ["a", "b", "c"])'),
        ('{"ratio": 0.7}', "ratio: must be a multiple of 0.5 (got 0.7)"),
        (
            '{"order": {"items": [{"sku": "a"}, {"sku": "b", "quantity": 0}]}}',
            "order.items[1].quantity: must be > 0 (got 0)",
        ),
        ('{"order": {"items": [{}]}}', "order.items[0].sku: field required"),
    ],
)
async def test_each_kind_of_violation_names_the_argument(arguments: str, message: str) -> None:
    assert await message_for(arguments, shapes) == f"invalid arguments for shapes: {message}"


async def test_long_inputs_are_truncated() -> None:
    message = await message_for(json.dumps({"city": "x" * 500, "days": "y" * 500}))
    assert message == (
        "invalid arguments for get_weather: days: input should be a valid integer, unable to "
        'parse string as an integer (got "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...)'
    )


async def test_many_errors_are_capped() -> None:
    @tool
    def many(a: int, b: int, c: int, d: int, e: int, f: int, g: int) -> None: ...

    message = await message_for("{}", many)
    assert message == (
        "invalid arguments for many: a: field required; b: field required; c: field required; "
        "d: field required; e: field required; and 2 more"
    )


# -- a call with no arguments -------------------------------------------------------------------


@tool
def no_parameters() -> str:
    return "ok"


@tool
def only_the_context(ctx: ToolContext[None]) -> str:
    return ctx.call_id


@tool
def context_first_positionally(ctx: ToolContext[None], /, unit: str = "c") -> str:
    return ctx.call_id + unit


@tool
def positional_with_default(unit: str = "c", /) -> str:
    return unit


@tool
def checked_default(unit: Annotated[str, Field(min_length=3, validate_default=True)] = "c") -> str:
    return unit


@pytest.mark.parametrize(
    "target",
    [no_parameters, only_the_context, context_first_positionally, shapes],
)
@pytest.mark.parametrize("arguments", ["{}", "", "  "])
def test_no_arguments_bind_as_validation_would_without_validating(
    target: object, arguments: str
) -> None:
    spec = target._arguments  # type: ignore[attr-defined]
    context = ToolContext("call_1", "t")
    expected = bind_arguments(spec, "t", " {} ", context)  # " {} " takes the validating path
    assert spec.empty_is_valid
    unvalidated = dataclasses.replace(spec, model=object)  # validating would raise
    assert bind_arguments(unvalidated, "t", arguments, context) == expected


def test_calls_that_need_validating_even_when_empty_are_validated() -> None:
    for target in (get_weather, positional_with_default, checked_default):
        assert not target._arguments.empty_is_valid
    with pytest.raises(InvalidArgumentsError):
        bind_arguments(get_weather._arguments, "get_weather", "{}", None)
    assert bind_arguments(positional_with_default._arguments, "t", "{}", None) == (["c"], {})
    with pytest.raises(InvalidArgumentsError):
        bind_arguments(checked_default._arguments, "t", "{}", None)
