"""Tool functions for the schema corpus: one feature per function, every docstring style.

Annotations here are strings (``from __future__ import annotations``), so the corpus also
exercises their resolution; the other test modules use evaluated annotations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field
from typing_extensions import NotRequired, TypedDict

from agentkit.tools import ToolContext


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = Field(description="City name")
    zip_code: Annotated[str, Field(max_length=10)] = ""


class Item(BaseModel):
    sku: str
    quantity: Annotated[int, Field(gt=0)] = 1


class Order(BaseModel):
    items: list[Item]
    ship_to: Address
    note: str | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Filters(TypedDict):
    text: str
    max_price: NotRequired[float]


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


@dataclasses.dataclass
class Deps:
    user_id: str


def no_params() -> str:
    """Say hello."""
    return "hello"


def scalars(s: str, i: int, f: float, b: bool) -> None:
    """Scalars."""


def none_param(nothing: None) -> None:
    """None type."""


def optional_required(x: Optional[int]) -> None:  # noqa: UP045 - the spelling is the test
    """Optional but required."""


def optional_default(x: int | None = None) -> None:
    """Optional with a default."""


def union(value: Union[int, str]) -> None:  # noqa: UP007 - the spelling is the test
    """A union."""


def literal(unit: Literal["c", "f"] = "c") -> None:
    """A literal with a default."""


def literal_single(mode: Literal["fast"]) -> None:
    """A single-value literal."""


def str_enum(color: Color, fallback: Color = Color.RED) -> None:
    """A str enum."""


def int_enum(level: Priority) -> None:
    """An int enum."""


def collections(tags: list[str], ids: set[int], scores: dict[str, float]) -> None:
    """Collections."""


def tuples(point: tuple[float, float], values: tuple[int, ...]) -> None:
    """Tuples."""


def field_bounds(days: Annotated[int, Field(ge=1, le=14, description="Days ahead")]) -> None:
    """Field constraints and description."""


def plain_annotated(city: Annotated[str, "The city to look up"]) -> None:
    """A plain-string Annotated description."""


def string_bounds(
    code: Annotated[str, Field(min_length=2, max_length=3, pattern="^[A-Z]+$")],
) -> None:
    """String constraints."""


def list_bounds(items: Annotated[list[int], Field(min_length=1, max_length=5)]) -> None:
    """List length constraints."""


def number_bounds(
    ratio: Annotated[float, Field(gt=0, lt=1)], step: Annotated[int, Field(multiple_of=5)] = 10
) -> None:
    """Exclusive bounds and multiple-of."""


def model_param(address: Address) -> None:
    """A pydantic model parameter.

    Args:
        address: Where to deliver.
    """


def nested_model(order: Order) -> None:
    """Nested models."""


def dataclass_param(point: Point) -> None:
    """A dataclass parameter."""


def typeddict_param(filters: Filters) -> None:
    """A TypedDict parameter."""


def optional_model(address: Address | None = None) -> None:
    """An optional model with a default."""


def discriminated(pet: Annotated[Cat | Dog, Field(discriminator="kind")]) -> None:
    """A discriminated union."""


def dates(when: dt.datetime, day: dt.date, at: dt.time, ref: uuid.UUID) -> None:
    """Dates, times and UUIDs."""


def defaults(name: str = "x", count: int = 2, ratio: float = 0.5, flag: bool = False) -> None:
    """Defaults."""


def inferred(limit=10, query="all"):  # type: ignore[no-untyped-def]
    """Types inferred from plain defaults."""


def any_value(payload: Any) -> None:
    """Any value."""


def google_style(city: str, days: int = 1) -> None:
    """Get the forecast.

    Uses the national weather service.

    Args:
        city: The city name.
        days: How many days,
            at most a week.

    Returns:
        The forecast.
    """


def numpy_style(city: str, days: int = 1) -> None:
    """Get the forecast.

    Parameters
    ----------
    city : str
        The city name.
    days : int
        How many days.

    Returns
    -------
    str
        The forecast.
    """


def rest_style(city: str, days: int = 1) -> None:
    """Get the forecast.

    :param city: The city name.
    :param days: How many days.
    :returns: The forecast.
    """


def epydoc_style(city: str, days: int = 1) -> None:
    """Get the forecast.

    @param city: The city name.
    @param days: How many days.
    @return: The forecast.
    """


def annotated_wins(
    city: Annotated[str, Field(description="From Field")],
    zone: Annotated[str, "From Annotated"],
    days: int,
) -> None:
    """Precedence.

    Args:
        city: From the docstring.
        zone: From the docstring.
        days: From the docstring.
    """


def with_context(query: str, ctx: ToolContext[Deps]) -> None:
    """Search; the context is injected."""


def with_bare_context(ctx: ToolContext, query: str) -> None:
    """Bare ToolContext is injected too."""


async def async_tool(query: str) -> str:
    """An async tool."""
    return query


def parameter_kinds(a: int, /, b: int, *, c: int = 3) -> None:
    """Positional-only, normal and keyword-only parameters."""


def reserved_names(json: str, model_name: str, schema: int = 0) -> None:
    """Names pydantic reserves on models."""


def no_docstring(x: int) -> None:
    pass
