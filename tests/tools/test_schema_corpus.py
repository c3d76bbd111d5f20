"""Snapshot corpus: signature -> exact schema sent in ``session.update``.

Each case is a function from :mod:`tests.tools.corpus_functions` with the description and the
``parameters`` object it must produce, written out literally so that any change to the wire
schema shows up in review.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from openai.types.realtime import RealtimeFunctionTool

from agentkit.tools import tool
from tests.tools import corpus_functions as cf
from tests.tools.jsonschema_subset import check_schema

CASES = [
    pytest.param(
        cf.no_params,
        "Say hello.",
        {"type": "object", "properties": {}},
        id="no_params",
    ),
    pytest.param(
        cf.scalars,
        "Scalars.",
        {
            "type": "object",
            "properties": {
                "s": {"type": "string"},
                "i": {"type": "integer"},
                "f": {"type": "number"},
                "b": {"type": "boolean"},
            },
            "required": ["s", "i", "f", "b"],
        },
        id="scalars",
    ),
    pytest.param(
        cf.none_param,
        "None type.",
        {"type": "object", "properties": {"nothing": {"type": "null"}}, "required": ["nothing"]},
        id="none_param",
    ),
    pytest.param(
        cf.optional_required,
        "Optional but required.",
        {
            "type": "object",
            "properties": {"x": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
            "required": ["x"],
        },
        id="optional_required",
    ),
    pytest.param(
        cf.optional_default,
        "Optional with a default.",
        {
            "type": "object",
            "properties": {
                "x": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
            },
        },
        id="optional_default",
    ),
    pytest.param(
        cf.union,
        "A union.",
        {
            "type": "object",
            "properties": {"value": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
            "required": ["value"],
        },
        id="union",
    ),
    pytest.param(
        cf.literal,
        "A literal with a default.",
        {
            "type": "object",
            "properties": {"unit": {"default": "c", "enum": ["c", "f"], "type": "string"}},
        },
        id="literal",
    ),
    pytest.param(
        cf.literal_single,
        "A single-value literal.",
        {
            "type": "object",
            "properties": {"mode": {"const": "fast", "type": "string"}},
            "required": ["mode"],
        },
        id="literal_single",
    ),
    pytest.param(
        cf.str_enum,
        "A str enum.",
        {
            "type": "object",
            "properties": {
                "color": {"enum": ["red", "green"], "type": "string"},
                "fallback": {"enum": ["red", "green"], "type": "string", "default": "red"},
            },
            "required": ["color"],
        },
        id="str_enum",
    ),
    pytest.param(
        cf.int_enum,
        "An int enum.",
        {
            "type": "object",
            "properties": {"level": {"enum": [1, 2], "type": "integer"}},
            "required": ["level"],
        },
        id="int_enum",
    ),
    pytest.param(
        cf.collections,
        "Collections.",
        {
            "type": "object",
            "properties": {
                "tags": {"items": {"type": "string"}, "type": "array"},
                "ids": {"items": {"type": "integer"}, "type": "array", "uniqueItems": True},
                "scores": {"additionalProperties": {"type": "number"}, "type": "object"},
            },
            "required": ["tags", "ids", "scores"],
        },
        id="collections",
    ),
    pytest.param(
        cf.tuples,
        "Tuples.",
        {
            "type": "object",
            "properties": {
                "point": {
                    "maxItems": 2,
                    "minItems": 2,
                    "prefixItems": [{"type": "number"}, {"type": "number"}],
                    "type": "array",
                },
                "values": {"items": {"type": "integer"}, "type": "array"},
            },
            "required": ["point", "values"],
        },
        id="tuples",
    ),
    pytest.param(
        cf.field_bounds,
        "Field constraints and description.",
        {
            "type": "object",
            "properties": {
                "days": {
                    "description": "Days ahead",
                    "maximum": 14,
                    "minimum": 1,
                    "type": "integer",
                }
            },
            "required": ["days"],
        },
        id="field_bounds",
    ),
    pytest.param(
        cf.plain_annotated,
        "A plain-string Annotated description.",
        {
            "type": "object",
            "properties": {"city": {"description": "The city to look up", "type": "string"}},
            "required": ["city"],
        },
        id="plain_annotated",
    ),
    pytest.param(
        cf.string_bounds,
        "String constraints.",
        {
            "type": "object",
            "properties": {
                "code": {"maxLength": 3, "minLength": 2, "pattern": "^[A-Z]+$", "type": "string"}
            },
            "required": ["code"],
        },
        id="string_bounds",
    ),
    pytest.param(
        cf.list_bounds,
        "List length constraints.",
        {
            "type": "object",
            "properties": {
                "items": {
                    "items": {"type": "integer"},
                    "maxItems": 5,
                    "minItems": 1,
                    "type": "array",
                }
            },
            "required": ["items"],
        },
        id="list_bounds",
    ),
    pytest.param(
        cf.number_bounds,
        "Exclusive bounds and multiple-of.",
        {
            "type": "object",
            "properties": {
                "ratio": {"exclusiveMaximum": 1, "exclusiveMinimum": 0, "type": "number"},
                "step": {"default": 10, "multipleOf": 5, "type": "integer"},
            },
            "required": ["ratio"],
        },
        id="number_bounds",
    ),
    pytest.param(
        cf.model_param,
        "A pydantic model parameter.",
        {
            "type": "object",
            "properties": {
                "address": {
                    "description": "Where to deliver.",
                    "properties": {
                        "street": {"type": "string"},
                        "city": {"description": "City name", "type": "string"},
                        "zip_code": {"default": "", "maxLength": 10, "type": "string"},
                    },
                    "required": ["street", "city"],
                    "type": "object",
                }
            },
            "required": ["address"],
        },
        id="model_param",
    ),
    pytest.param(
        cf.nested_model,
        "Nested models.",
        {
            "type": "object",
            "properties": {
                "order": {
                    "properties": {
                        "items": {
                            "items": {
                                "properties": {
                                    "sku": {"type": "string"},
                                    "quantity": {
                                        "default": 1,
                                        "exclusiveMinimum": 0,
                                        "type": "integer",
                                    },
                                },
                                "required": ["sku"],
                                "type": "object",
                            },
                            "type": "array",
                        },
                        "ship_to": {
                            "description": "A postal address.",
                            "properties": {
                                "street": {"type": "string"},
                                "city": {"description": "City name", "type": "string"},
                                "zip_code": {"default": "", "maxLength": 10, "type": "string"},
                            },
                            "required": ["street", "city"],
                            "type": "object",
                        },
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    },
                    "required": ["items", "ship_to"],
                    "type": "object",
                }
            },
            "required": ["order"],
        },
        id="nested_model",
    ),
    pytest.param(
        cf.dataclass_param,
        "A dataclass parameter.",
        {
            "type": "object",
            "properties": {
                "point": {
                    "properties": {
                        "x": {"type": "number"},
                        "y": {"default": 0.0, "type": "number"},
                    },
                    "required": ["x"],
                    "type": "object",
                }
            },
            "required": ["point"],
        },
        id="dataclass_param",
    ),
    pytest.param(
        cf.typeddict_param,
        "A TypedDict parameter.",
        {
            "type": "object",
            "properties": {
                "filters": {
                    "properties": {"text": {"type": "string"}, "max_price": {"type": "number"}},
                    "required": ["text"],
                    "type": "object",
                }
            },
            "required": ["filters"],
        },
        id="typeddict_param",
    ),
    pytest.param(
        cf.optional_model,
        "An optional model with a default.",
        {
            "type": "object",
            "properties": {
                "address": {
                    "anyOf": [
                        {
                            "description": "A postal address.",
                            "properties": {
                                "street": {"type": "string"},
                                "city": {"description": "City name", "type": "string"},
                                "zip_code": {"default": "", "maxLength": 10, "type": "string"},
                            },
                            "required": ["street", "city"],
                            "type": "object",
                        },
                        {"type": "null"},
                    ],
                    "default": None,
                }
            },
        },
        id="optional_model",
    ),
    pytest.param(
        cf.discriminated,
        "A discriminated union.",
        {
            "type": "object",
            "properties": {
                "pet": {
                    "anyOf": [
                        {
                            "properties": {
                                "kind": {"const": "cat", "type": "string"},
                                "lives": {"type": "integer"},
                            },
                            "required": ["kind", "lives"],
                            "type": "object",
                        },
                        {
                            "properties": {
                                "kind": {"const": "dog", "type": "string"},
                                "good": {"type": "boolean"},
                            },
                            "required": ["kind", "good"],
                            "type": "object",
                        },
                    ]
                }
            },
            "required": ["pet"],
        },
        id="discriminated",
    ),
    pytest.param(
        cf.dates,
        "Dates, times and UUIDs.",
        {
            "type": "object",
            "properties": {
                "when": {"format": "date-time", "type": "string"},
                "day": {"format": "date", "type": "string"},
                "at": {"format": "time", "type": "string"},
                "ref": {"format": "uuid", "type": "string"},
            },
            "required": ["when", "day", "at", "ref"],
        },
        id="dates",
    ),
    pytest.param(
        cf.defaults,
        "Defaults.",
        {
            "type": "object",
            "properties": {
                "name": {"default": "x", "type": "string"},
                "count": {"default": 2, "type": "integer"},
                "ratio": {"default": 0.5, "type": "number"},
                "flag": {"default": False, "type": "boolean"},
            },
        },
        id="defaults",
    ),
    pytest.param(
        cf.inferred,
        "Types inferred from plain defaults.",
        {
            "type": "object",
            "properties": {
                "limit": {"default": 10, "type": "integer"},
                "query": {"default": "all", "type": "string"},
            },
        },
        id="inferred",
    ),
    pytest.param(
        cf.any_value,
        "Any value.",
        {"type": "object", "properties": {"payload": {}}, "required": ["payload"]},
        id="any_value",
    ),
    pytest.param(
        cf.google_style,
        "Get the forecast.\n\nUses the national weather service.",
        {
            "type": "object",
            "properties": {
                "city": {"description": "The city name.", "type": "string"},
                "days": {
                    "default": 1,
                    "description": "How many days, at most a week.",
                    "type": "integer",
                },
            },
            "required": ["city"],
        },
        id="google_style",
    ),
    pytest.param(
        cf.numpy_style,
        "Get the forecast.",
        {
            "type": "object",
            "properties": {
                "city": {"description": "The city name.", "type": "string"},
                "days": {"default": 1, "description": "How many days.", "type": "integer"},
            },
            "required": ["city"],
        },
        id="numpy_style",
    ),
    pytest.param(
        cf.rest_style,
        "Get the forecast.",
        {
            "type": "object",
            "properties": {
                "city": {"description": "The city name.", "type": "string"},
                "days": {"default": 1, "description": "How many days.", "type": "integer"},
            },
            "required": ["city"],
        },
        id="rest_style",
    ),
    pytest.param(
        cf.epydoc_style,
        "Get the forecast.",
        {
            "type": "object",
            "properties": {
                "city": {"description": "The city name.", "type": "string"},
                "days": {"default": 1, "description": "How many days.", "type": "integer"},
            },
            "required": ["city"],
        },
        id="epydoc_style",
    ),
    pytest.param(
        cf.annotated_wins,
        "Precedence.",
        {
            "type": "object",
            "properties": {
                "city": {"description": "From Field", "type": "string"},
                "zone": {"description": "From Annotated", "type": "string"},
                "days": {"description": "From the docstring.", "type": "integer"},
            },
            "required": ["city", "zone", "days"],
        },
        id="annotated_wins",
    ),
    pytest.param(
        cf.with_context,
        "Search; the context is injected.",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        id="with_context",
    ),
    pytest.param(
        cf.with_bare_context,
        "Bare ToolContext is injected too.",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        id="with_bare_context",
    ),
    pytest.param(
        cf.async_tool,
        "An async tool.",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        id="async_tool",
    ),
    pytest.param(
        cf.parameter_kinds,
        "Positional-only, normal and keyword-only parameters.",
        {
            "type": "object",
            "properties": {
                "a": {"type": "integer"},
                "b": {"type": "integer"},
                "c": {"default": 3, "type": "integer"},
            },
            "required": ["a", "b"],
        },
        id="parameter_kinds",
    ),
    pytest.param(
        cf.reserved_names,
        "Names pydantic reserves on models.",
        {
            "type": "object",
            "properties": {
                "json": {"type": "string"},
                "model_name": {"type": "string"},
                "schema": {"default": 0, "type": "integer"},
            },
            "required": ["json", "model_name"],
        },
        id="reserved_names",
    ),
    pytest.param(
        cf.no_docstring,
        "",
        {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
        id="no_docstring",
    ),
]


@pytest.mark.parametrize(("func", "description", "parameters"), CASES)
def test_schema_snapshot(
    func: Callable[..., Any], description: str, parameters: dict[str, Any]
) -> None:
    schema = tool(func).schema()
    assert schema == {
        "type": "function",
        "name": func.__name__,
        "description": description,
        "parameters": parameters,
    }


@pytest.mark.parametrize(("func", "description", "parameters"), CASES)
def test_schema_uses_only_sendable_keywords(
    func: Callable[..., Any], description: str, parameters: dict[str, Any]
) -> None:
    check_schema(tool(func).schema()["parameters"])  # raises on $ref, title, oneOf...


@pytest.mark.parametrize(("func", "description", "parameters"), CASES)
def test_schema_matches_the_sdk_function_tool_shape(
    func: Callable[..., Any], description: str, parameters: dict[str, Any]
) -> None:
    schema = tool(func).schema()
    parsed = RealtimeFunctionTool.model_validate(schema, strict=True)
    assert parsed.model_dump(exclude_unset=True) == schema


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


def test_options_override_name_and_description() -> None:
    t = tool(name="forecast", description="Weather for a city.")(cf.google_style)
    schema = t.schema()
    assert (schema["name"], schema["description"]) == ("forecast", "Weather for a city.")
    assert schema["parameters"] == tool(cf.google_style).schema()["parameters"]


def test_strict_closes_the_top_level_object() -> None:
    schema = tool(strict=True)(cf.scalars).schema()
    assert schema["parameters"] == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "f": {"type": "number"},
            "b": {"type": "boolean"},
        },
        "required": ["s", "i", "f", "b"],
        "additionalProperties": False,
    }


def test_schema_is_a_fresh_copy() -> None:
    t = tool(cf.scalars)
    t.schema()["parameters"]["properties"].clear()
    assert len(t.schema()["parameters"]["properties"]) == 4
