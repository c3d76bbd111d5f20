"""The arguments model (pydantic) and the ``parameters`` JSON Schema of a tool.

One pydantic model per tool, made with ``create_model`` from the signature, does both jobs: its
JSON Schema (cleaned by :mod:`agentkit.tools.wire_schema`) is what the model is told, and
``model_validate_json`` checks what the model sends back. The two cannot drift apart.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticUserError,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import PydanticJsonSchemaWarning

from agentkit.errors import ToolDefinitionError
from agentkit.tools.docstrings import DocInfo
from agentkit.tools.signature import EMPTY, Param
from agentkit.tools.wire_schema import clean_parameters

__all__ = ["ArgumentsSpec", "build_arguments"]


@dataclass(frozen=True)
class ArgumentsSpec:
    """Everything needed to describe a tool's arguments and to validate them.

    Attributes:
        model: the pydantic model the JSON arguments are validated with.
        params: the function's parameters in order, the injected one included.
        field_names: model field name for each schema parameter (they differ only for names
            pydantic reserves, such as ``json`` or ``model_id``; the JSON name is always the
            parameter's own).
        parameters: the cleaned JSON Schema object sent as the tool's ``parameters``.
        empty_is_valid: ``{}`` validates and binds nothing the model fills (no required field,
            no positional-only one), so a call with no arguments need not be validated.
    """

    model: type[BaseModel]
    params: tuple[Param, ...]
    field_names: Mapping[str, str]
    parameters: dict[str, Any]
    empty_is_valid: bool = False


def build_arguments(
    params: tuple[Param, ...], docs: DocInfo, function: str, *, strict: bool, module: str | None
) -> ArgumentsSpec:
    """Build the arguments model and schema; fail now rather than at the first call.

    Raises:
        ToolDefinitionError: a parameter's type has no JSON form, or is recursive.
    """
    schema_params = [p for p in params if not p.injected]
    taken = {p.name for p in params}
    field_names = {p.name: _field_name(p.name, i, taken) for i, p in enumerate(schema_params)}
    try:
        model = _make_model(schema_params, field_names, docs, function, strict, module)
        raw = _json_schema(model)
    except PydanticUserError as exc:
        raise _blame(schema_params, function, exc) from exc
    parameters = clean_parameters(raw, function, strict)
    empty_is_valid = _accepts_empty(model) and not any(p.positional_only for p in schema_params)
    return ArgumentsSpec(model, params, field_names, parameters, empty_is_valid)


def _accepts_empty(model: type[BaseModel]) -> bool:
    try:
        model.model_validate_json("{}")
    except ValidationError:
        return False
    return True


def _make_model(
    params: list[Param],
    field_names: Mapping[str, str],
    docs: DocInfo,
    function: str,
    strict: bool,
    module: str | None,
) -> type[BaseModel]:
    fields: dict[str, Any] = {
        field_names[p.name]: (p.annotation, _field_info(p, field_names[p.name], docs))
        for p in params
    }
    # Unknown arguments are ignored unless strict: models sometimes add one, and failing the
    # whole call for it helps nobody.
    config = ConfigDict(extra="forbid" if strict else "ignore", strict=strict)
    return create_model(
        f"{function}_arguments", __config__=config, __module__=module or __name__, **fields
    )


def _field_info(p: Param, field_name: str, docs: DocInfo) -> FieldInfo:
    options: dict[str, Any] = {}
    if field_name != p.name:
        options["alias"] = p.name
    description = _annotated_description(p.annotation) or docs.parameters.get(p.name)
    if description:
        options["description"] = description
    default = ... if p.default is EMPTY else p.default
    info: FieldInfo = Field(default, **options)
    return info


def _annotated_description(annotation: Any) -> str | None:
    """``Annotated[x, Field(description=...)]`` first, then ``Annotated[x, "plain text"]``."""
    if get_origin(annotation) is not Annotated:
        return None
    metadata = annotation.__metadata__
    for item in metadata:
        if isinstance(item, FieldInfo) and item.description:
            return item.description
    return next((item for item in metadata if isinstance(item, str)), None)


def _field_name(name: str, index: int, taken: set[str]) -> str:
    """A model field name pydantic accepts without warnings for this parameter."""
    if not (name.startswith(("_", "model_")) or hasattr(BaseModel, name)):
        return name
    candidate = f"param_{index}"
    while candidate in taken:  # a parameter may itself be called param_0
        candidate += "_"
    return candidate


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    with warnings.catch_warnings():
        # A default with no JSON form is left out of the schema; the call still uses it.
        warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
        return model.model_json_schema(mode="validation")


def _blame(params: list[Param], function: str, exc: PydanticUserError) -> ToolDefinitionError:
    """Find the parameter whose type pydantic could not handle, to name it in the error."""
    for p in params:
        try:
            _json_schema_of(p.annotation)
        except PydanticUserError as inner:
            return ToolDefinitionError(function, _explain(p.annotation, inner), p.name)
    return ToolDefinitionError(function, _first_line(exc))


def _json_schema_of(annotation: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
        TypeAdapter(annotation).json_schema(mode="validation")


def _explain(annotation: Any, exc: PydanticUserError) -> str:
    if exc.code in ("schema-for-unknown-type", "invalid-for-json-schema", None):
        name = getattr(annotation, "__name__", None) or repr(annotation)
        return (
            f"type {name} has no JSON form; use str, numbers, bool, Literal, Enum, list, dict, "
            "a pydantic model, a dataclass or a TypedDict"
        )
    return _first_line(exc)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
