"""Turn the model's JSON arguments into a validated call, or into a short error for the model.

The error text is written for a language model that will retry: which argument, what was wrong,
what was received, in one line. No traceback, no pydantic documentation URL::

    invalid arguments for get_weather: city: field required; days: must be <= 14 (got 30)
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from agentkit.tools.context import ToolContext
from agentkit.tools.schema import ArgumentsSpec

__all__ = ["InvalidArgumentsError", "bind_arguments", "describe_validation_error"]

MAX_REPORTED_ERRORS = 5
_MAX_INPUT_CHARS = 40

# pydantic's wording, shortened for the kinds a model trips over most.
_SHORT_MESSAGES = {
    "missing": "field required",
    "extra_forbidden": "unexpected argument",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "string_too_long": "must have at most {max_length} characters",
    "string_too_short": "must have at least {min_length} characters",
    "too_long": "must have at most {max_length} items",
    "too_short": "must have at least {min_length} items",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "string_pattern_mismatch": "must match the pattern {pattern}",
}


class InvalidArgumentsError(ValueError):
    """The arguments did not parse or validate; ``str()`` is the message for the model."""


def bind_arguments(
    spec: ArgumentsSpec,
    tool_name: str,
    arguments_json: str,
    context: ToolContext[Any] | None,
) -> tuple[list[Any], dict[str, Any]]:
    """Validate ``arguments_json`` and lay the values out as ``(args, kwargs)`` for the call.

    Arguments the model left out are not passed, so the function's own defaults apply exactly.
    Nested models and dataclasses arrive as real instances.

    Raises:
        InvalidArgumentsError: bad JSON, not an object, or a schema violation.
    """
    text = arguments_json if arguments_json.strip() else "{}"  # some models send "" for no args
    if text == "{}" and spec.empty_is_valid:  # nothing to check: only the context is bound
        return _bound(spec, context, None, frozenset())
    try:
        validated = spec.model.__pydantic_validator__.validate_json(text)  # no Python wrapper
    except ValidationError as exc:
        raise InvalidArgumentsError(describe_validation_error(tool_name, exc)) from None
    return _bound(spec, context, validated, validated.model_fields_set)


def _bound(
    spec: ArgumentsSpec,
    context: ToolContext[Any] | None,
    validated: BaseModel | None,
    provided: AbstractSet[str],
) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in spec.params:
        field = spec.field_names.get(p.name, "")
        if not (p.injected or p.positional_only or field in provided):
            continue
        value = context if p.injected else getattr(validated, field)
        if p.positional_only:
            args.append(value)
        else:
            kwargs[p.name] = value
    return args, kwargs


def describe_validation_error(tool_name: str, exc: ValidationError) -> str:
    """One line naming each wrong argument and why (at most :data:`MAX_REPORTED_ERRORS`)."""
    errors = exc.errors(include_url=False)
    prefix = f"invalid arguments for {tool_name}: "
    whole = _whole_document_problem(errors)
    if whole:
        return prefix + whole
    parts = [f"{_path(e['loc'])}: {_message(e)}" for e in errors[:MAX_REPORTED_ERRORS]]
    if len(errors) > MAX_REPORTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_REPORTED_ERRORS} more")
    return prefix + "; ".join(parts)


def _whole_document_problem(errors: list[ErrorDetails]) -> str | None:
    first = errors[0]
    if first["loc"]:
        return None
    if first["type"] == "json_invalid":
        return f"not valid JSON ({first.get('ctx', {}).get('error', first['msg'])})"
    return f"arguments must be a JSON object (got {_short(first['input'])})"


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: ErrorDetails) -> str:
    template = _SHORT_MESSAGES.get(error["type"])
    ctx = error.get("ctx", {})
    try:
        text = template.format(**ctx) if template else _lower_first(error["msg"])
    except (KeyError, IndexError):
        text = _lower_first(error["msg"])
    if error["type"] in ("missing", "extra_forbidden"):
        return text
    return f"{text} (got {_short(error['input'])})"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # circular structures cannot come from JSON, but stay safe
        text = repr(value)
    return text if len(text) <= _MAX_INPUT_CHARS else text[: _MAX_INPUT_CHARS - 3] + "..."
