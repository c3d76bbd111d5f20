"""Read a function's parameters: resolved annotations, defaults, and which one is injected.

Everything that can be wrong with a signature is found here, at decoration time, and reported
as a :class:`~agentkit.errors.ToolDefinitionError` naming the function and the parameter.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentkit.errors import ToolDefinitionError
from agentkit.tools.context import is_context_annotation

__all__ = ["Param", "read_parameters"]

EMPTY: Any = inspect.Parameter.empty

# An unannotated parameter is accepted only when its default says plainly what it is.
_INFERABLE = (bool, int, float, str)


@dataclass(frozen=True)
class Param:
    """One parameter of a tool function.

    Attributes:
        name: the parameter's name, which is also the argument name the model uses.
        annotation: the resolved annotation (strings from ``from __future__ import annotations``
            are evaluated in the function's module).
        default: the default value, or ``inspect.Parameter.empty`` when required.
        positional_only: the parameter sits before ``/`` and must be passed by position.
        injected: annotated with ``ToolContext``: filled by the dispatcher, not the model.
    """

    name: str
    annotation: Any
    default: Any = EMPTY
    positional_only: bool = False
    injected: bool = False


def read_parameters(func: Callable[..., Any], function_name: str) -> tuple[Param, ...]:
    """Describe every parameter of ``func``, failing early on what JSON cannot fill."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(function_name, f"has no readable signature ({exc})") from exc
    params = tuple(_read(func, function_name, p) for p in signature.parameters.values())
    injected = [p.name for p in params if p.injected]
    if len(injected) > 1:
        message = "only one parameter may be annotated with ToolContext"
        raise ToolDefinitionError(function_name, message, injected[1])
    return params


def _read(func: Callable[..., Any], function_name: str, p: inspect.Parameter) -> Param:
    if p.kind is inspect.Parameter.VAR_POSITIONAL:
        message = "*args cannot be filled from JSON arguments; use a list parameter instead"
        raise ToolDefinitionError(function_name, message, p.name)
    if p.kind is inspect.Parameter.VAR_KEYWORD:
        message = "**kwargs cannot be described by a schema; use a dict or model parameter"
        raise ToolDefinitionError(function_name, message, p.name)
    annotation = _annotation(func, function_name, p)
    return Param(
        name=p.name,
        annotation=annotation,
        default=p.default,
        positional_only=p.kind is inspect.Parameter.POSITIONAL_ONLY,
        injected=is_context_annotation(annotation),
    )


def _annotation(func: Callable[..., Any], function_name: str, p: inspect.Parameter) -> Any:
    if p.annotation is EMPTY:
        if p.default is not EMPTY and type(p.default) in _INFERABLE:
            return type(p.default)
        message = "needs a type annotation: the argument schema is built from it"
        raise ToolDefinitionError(function_name, message, p.name)
    if isinstance(p.annotation, str):
        return _evaluate(func, function_name, p.name, p.annotation)
    return p.annotation


def _evaluate(func: Callable[..., Any], function_name: str, name: str, text: str) -> Any:
    """Evaluate a string annotation the way ``typing.get_type_hints`` would, one at a time.

    One at a time so that an unresolvable *return* annotation (say, a type imported only under
    ``TYPE_CHECKING``) does not stop a tool whose parameters are all fine.
    """
    target = inspect.unwrap(func)
    namespace = getattr(target, "__globals__", {})
    try:
        return eval(text, namespace)  # the annotation is the author's own code
    except Exception as exc:
        message = (
            f"annotation {text!r} cannot be resolved ({type(exc).__name__}: {exc}); "
            "define the types a tool uses at module level"
        )
        raise ToolDefinitionError(function_name, message, name) from exc
