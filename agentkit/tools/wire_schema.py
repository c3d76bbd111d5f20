"""Make pydantic's JSON Schema fit to send in ``session.update``.

Policy (see docs/tools.md): every ``$ref`` is **inlined**, so each parameter's schema is complete
where it stands; realtime models follow inline schemas best, and nothing can dangle. A recursive
type cannot be inlined and fails at decoration time. Only the JSON Schema keywords in
:data:`KEYWORDS` are kept: ``title`` (noise that costs tokens) and pydantic's OpenAPI extras such as
``discriminator`` are dropped, ``oneOf`` becomes ``anyOf`` and a lone ``allOf`` is merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentkit.errors import ToolDefinitionError

__all__ = ["KEYWORDS", "clean_parameters"]

KEYWORDS = frozenset(
    {
        "type", "description", "enum", "const", "format", "default", "examples",
        "properties", "required", "additionalProperties", "items", "prefixItems", "anyOf",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
        "minProperties", "maxProperties",
    }
)  # fmt: skip
"""The JSON Schema keywords a tool's ``parameters`` may contain."""

_SCHEMA_VALUED = frozenset({"items", "additionalProperties"})
_SCHEMA_LISTS = frozenset({"anyOf", "prefixItems"})
_RENAMED = {"oneOf": "anyOf"}  # discriminated unions: "any" is what the model needs to know


@dataclass(frozen=True)
class _Walk:
    """Where the walk is: for resolving refs and naming the parameter in errors."""

    function: str
    parameter: str
    defs: Mapping[str, Any]
    expanding: tuple[str, ...] = ()


def clean_parameters(schema: Mapping[str, Any], function: str, strict: bool) -> dict[str, Any]:
    """Turn a pydantic model's JSON Schema into a tool's self-contained ``parameters`` object.

    Args:
        schema: ``model_json_schema()`` of the tool's arguments model.
        function: the function's name, for errors.
        strict: add ``additionalProperties: false`` (the tool rejects unknown arguments).

    Raises:
        ToolDefinitionError: a parameter's type is recursive, so it cannot be inlined.
    """
    defs = schema.get("$defs", {})
    properties = {
        name: _clean(sub, _Walk(function, name, defs))
        for name, sub in schema.get("properties", {}).items()
    }
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        result["required"] = list(schema["required"])
    if strict:
        result["additionalProperties"] = False
    return result


def _clean(node: Mapping[str, Any], walk: _Walk) -> dict[str, Any]:
    if "$ref" in node:
        return _inline(node, walk)
    if "allOf" in node and len(node["allOf"]) == 1:  # pydantic's "ref with siblings" idiom
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return _clean({**node["allOf"][0], **rest}, walk)
    return {
        _RENAMED.get(key, key): _clean_value(_RENAMED.get(key, key), value, walk)
        for key, value in node.items()
        if key in KEYWORDS or key in _RENAMED
    }


def _inline(node: Mapping[str, Any], walk: _Walk) -> dict[str, Any]:
    name = str(node["$ref"]).rsplit("/", 1)[-1]
    if name in walk.expanding:
        message = (
            f"type {name} is recursive; tool schemas are inlined for the realtime models, "
            "so recursive types are not supported (use a flat structure or a JSON string)"
        )
        raise ToolDefinitionError(walk.function, message, walk.parameter)
    inner = _Walk(walk.function, walk.parameter, walk.defs, (*walk.expanding, name))
    target = _clean(walk.defs[name], inner)
    # The siblings (a field's own description or default) are more specific than the type's.
    siblings = _clean({k: v for k, v in node.items() if k != "$ref"}, walk)
    return {**target, **siblings}


def _clean_value(key: str, value: Any, walk: _Walk) -> Any:
    if key == "properties":
        return {name: _clean(sub, walk) for name, sub in value.items()}
    if key in _SCHEMA_VALUED and isinstance(value, Mapping):
        return _clean(value, walk)
    if key in _SCHEMA_LISTS:
        return [_clean(sub, walk) for sub in value]
    return value
