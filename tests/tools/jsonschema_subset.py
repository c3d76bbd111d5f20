"""A small JSON Schema checker and validator for the keyword subset tools may send.

``check_schema`` fails on any keyword outside :data:`agentkit.tools.wire_schema.KEYWORDS` (so a
``$ref``, ``title`` or ``oneOf`` leaking into a tool schema is caught); ``validate`` checks an
instance against such a schema. There is no ``jsonschema`` package in the environment, and the
subset is small enough to implement here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agentkit.tools.wire_schema import KEYWORDS

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class SchemaViolation(AssertionError):
    """The instance does not satisfy the schema (or the schema uses a forbidden keyword)."""


def check_schema(schema: dict[str, Any], path: str = "#") -> None:
    """Every keyword, at every depth, is one tools may send."""
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise SchemaViolation(f"{path}: unexpected keywords {sorted(unknown)}")
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{path}/properties/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            check_schema(schema[key], f"{path}/{key}")
    for key in ("anyOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            check_schema(sub, f"{path}/{key}/{i}")


def validate(instance: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Raise :class:`SchemaViolation` unless ``instance`` satisfies ``schema``."""
    if "anyOf" in schema:
        _any_of(instance, schema["anyOf"], path)
    if "type" in schema and not _TYPES[schema["type"]](instance):
        raise SchemaViolation(f"{path}: {instance!r} is not of type {schema['type']}")
    if "enum" in schema and instance not in schema["enum"]:
        raise SchemaViolation(f"{path}: {instance!r} not in {schema['enum']}")
    if "const" in schema and instance != schema["const"]:
        raise SchemaViolation(f"{path}: {instance!r} != {schema['const']!r}")
    _bounds(instance, schema, path)
    if isinstance(instance, dict):
        _object(instance, schema, path)
    if isinstance(instance, list):
        _array(instance, schema, path)


def _any_of(instance: Any, options: list[dict[str, Any]], path: str) -> None:
    for option in options:
        try:
            validate(instance, option, path)
            return
        except SchemaViolation:
            continue
    raise SchemaViolation(f"{path}: {instance!r} matches no anyOf option")


def _bounds(instance: Any, schema: dict[str, Any], path: str) -> None:
    checks: dict[str, Callable[[Any, Any], bool]] = {
        "minimum": lambda v, b: v >= b,
        "maximum": lambda v, b: v <= b,
        "exclusiveMinimum": lambda v, b: v > b,
        "exclusiveMaximum": lambda v, b: v < b,
        "minLength": lambda v, b: len(v) >= b,
        "maxLength": lambda v, b: len(v) <= b,
        "minItems": lambda v, b: len(v) >= b,
        "maxItems": lambda v, b: len(v) <= b,
        "pattern": lambda v, b: re.search(b, v) is not None,
    }
    for key, ok in checks.items():
        if key in schema and not ok(instance, schema[key]):
            raise SchemaViolation(f"{path}: {instance!r} fails {key}={schema[key]!r}")


def _object(instance: dict[str, Any], schema: dict[str, Any], path: str) -> None:
    for name in schema.get("required", []):
        if name not in instance:
            raise SchemaViolation(f"{path}: missing required {name!r}")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, value in instance.items():
        if name in properties:
            validate(value, properties[name], f"{path}.{name}")
        elif extra is False:
            raise SchemaViolation(f"{path}: unexpected property {name!r}")
        elif isinstance(extra, dict):
            validate(value, extra, f"{path}.{name}")


def _array(instance: list[Any], schema: dict[str, Any], path: str) -> None:
    prefix = schema.get("prefixItems", [])
    for i, (value, sub) in enumerate(zip(instance, prefix, strict=False)):
        validate(value, sub, f"{path}[{i}]")
    if isinstance(schema.get("items"), dict):
        for i, value in enumerate(instance[len(prefix) :], start=len(prefix)):
            validate(value, schema["items"], f"{path}[{i}]")
    if schema.get("uniqueItems") and len({repr(v) for v in instance}) != len(instance):
        raise SchemaViolation(f"{path}: items are not unique")
