"""Property tests: valid arguments pass the schema and reach the function unchanged; any JSON
document gets a result (never an exception)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import uuid
from typing import Annotated, Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from pydantic_core import to_json

from agentkit.tools import ToolContext, tool
from tests.tools.jsonschema_subset import check_schema, validate


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Inner(BaseModel):
    label: Annotated[str, Field(max_length=8)]
    weight: Annotated[float, Field(ge=0, le=1000)] = 1.0


@dataclasses.dataclass
class Pair:
    left: int
    right: str | None = None


received: list[dict[str, Any]] = []


@tool
def everything(
    text: str,
    count: Annotated[int, Field(ge=-1000, le=1000)],
    ratio: float,
    flag: bool,
    color: Color,
    level: Level,
    unit: Literal["c", "f"],
    tags: Annotated[list[str], Field(max_length=4)],
    scores: dict[str, int],
    ids: set[int],
    point: tuple[int, float],
    maybe: int | None,
    choice: int | str,
    inner: Inner,
    pairs: list[Pair],
    when: dt.datetime,
    day: dt.date,
    ref: uuid.UUID,
    note: str = "none",
    limit: int = 10,
) -> str:
    """Accept one of everything and record it."""
    received.append(dict(locals()))
    return "ok"


SCHEMA = everything.schema()["parameters"]
OPTIONAL = {"note", "limit"}

finite = st.floats(allow_nan=False, allow_infinity=False)
small_text = st.text(max_size=12)

ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "text": st.text(),
    "count": st.integers(-1000, 1000),
    "ratio": finite,
    "flag": st.booleans(),
    "color": st.sampled_from(Color),
    "level": st.sampled_from(Level),
    "unit": st.sampled_from(["c", "f"]),
    "tags": st.lists(small_text, max_size=4),
    "scores": st.dictionaries(small_text, st.integers(), max_size=3),
    "ids": st.sets(st.integers(), max_size=4),
    "point": st.tuples(st.integers(), finite),
    "maybe": st.none() | st.integers(),
    "choice": st.integers() | small_text.filter(lambda s: not _looks_numeric(s)),
    "inner": st.builds(Inner, label=st.text(max_size=8), weight=st.floats(0, 1000)),
    "pairs": st.lists(st.builds(Pair, st.integers(), st.none() | small_text), max_size=3),
    "when": st.datetimes(timezones=st.just(dt.timezone.utc)),
    "day": st.dates(),
    "ref": st.uuids(),
    "note": small_text,
    "limit": st.integers(),
}


def _looks_numeric(s: str) -> bool:
    # In lax mode pydantic's int | str union keeps "12" a str (exact type match wins), but stay
    # clear of the question: the property is about round-tripping, not union tie-breaking.
    return s.strip().lstrip("+-").isdigit()


@st.composite
def arguments(draw: st.DrawFn) -> dict[str, Any]:
    values = {name: draw(strategy) for name, strategy in ARGUMENTS.items()}
    omitted = draw(st.sets(st.sampled_from(sorted(OPTIONAL))))
    return {k: v for k, v in values.items() if k not in omitted}


def test_schema_is_sendable() -> None:
    check_schema(SCHEMA)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=arguments())
async def test_valid_arguments_pass_the_schema_and_round_trip(values: dict[str, Any]) -> None:
    arguments_json = to_json(values).decode()
    validate(json.loads(arguments_json), SCHEMA)  # what the model may send, per the schema
    received.clear()
    result = await everything.invoke(arguments_json, ToolContext("c", "everything"))
    assert result.output == "ok", result.output
    call = received[0]
    expected = {"note": "none", "limit": 10, **values}
    assert {k: call[k] for k in expected} == expected
    assert isinstance(call["inner"], Inner) and all(isinstance(p, Pair) for p in call["pairs"])
    assert isinstance(call["color"], Color) and isinstance(call["level"], Level)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
documents = (
    json_values.map(json.dumps)
    | st.dictionaries(st.sampled_from(sorted(ARGUMENTS)), json_values).map(json.dumps)
    | st.text(max_size=30)
)


@settings(max_examples=150, deadline=None)
@given(document=documents)
async def test_any_document_gets_a_result_never_an_exception(document: str) -> None:
    result = await everything.invoke(document, ToolContext("c", "everything"))
    if result.is_error:
        assert result.error_type == "invalid_arguments"
        message = json.loads(result.output)["error"]["message"]
        assert message.startswith("invalid arguments for everything: ")
        assert "\n" not in message and "https://" not in message
