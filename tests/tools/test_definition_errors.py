"""Signatures that cannot become a tool fail at decoration time, naming function and parameter."""

from __future__ import annotations

import socket
import sys
import typing
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit.errors import ToolDefinitionError
from agentkit.tools import ToolContext, tool


class Node(BaseModel):
    value: int
    children: list[Node] = []


class Wrapper(BaseModel):
    root: Node


class PlainTypedDict(typing.TypedDict):  # pydantic wants typing_extensions' before 3.12
    a: int


def expect_error(func: Callable[..., Any], message: str, **options: Any) -> ToolDefinitionError:
    with pytest.raises(ToolDefinitionError) as caught:
        tool(**options)(func)
    assert str(caught.value) == message
    return caught.value


def test_star_args() -> None:
    def search(*queries: str) -> None: ...

    error = expect_error(
        search,
        "cannot make a tool from search(), parameter 'queries': *args cannot be filled from "
        "JSON arguments; use a list parameter instead",
    )
    assert (error.function, error.parameter) == ("search", "queries")


def test_star_kwargs() -> None:
    def search(query: str, **options: str) -> None: ...

    expect_error(
        search,
        "cannot make a tool from search(), parameter 'options': **kwargs cannot be described "
        "by a schema; use a dict or model parameter",
    )


def test_missing_annotation() -> None:
    def search(query) -> None: ...  # type: ignore[no-untyped-def]

    expect_error(
        search,
        "cannot make a tool from search(), parameter 'query': needs a type annotation: the "
        "argument schema is built from it",
    )


def test_missing_annotation_with_a_default_that_says_nothing() -> None:
    def search(query=None) -> None: ...  # type: ignore[no-untyped-def]

    expect_error(
        search,
        "cannot make a tool from search(), parameter 'query': needs a type annotation: the "
        "argument schema is built from it",
    )


def test_type_without_json_form() -> None:
    def send(sock: socket.socket) -> None: ...

    expect_error(
        send,
        "cannot make a tool from send(), parameter 'sock': type socket has no JSON form; use "
        "str, numbers, bool, Literal, Enum, list, dict, a pydantic model, a dataclass or a "
        "TypedDict",
    )


def test_callable_parameter_has_no_json_form() -> None:
    def apply(fn: Callable[[int], int], x: int) -> None: ...

    error = expect_error(
        apply,
        "cannot make a tool from apply(), parameter 'fn': type Callable has no JSON form; use "
        "str, numbers, bool, Literal, Enum, list, dict, a pydantic model, a dataclass or a "
        "TypedDict",
    )
    assert error.parameter == "fn"


def test_recursive_type_is_refused() -> None:
    def plant(tree: Wrapper) -> None: ...

    expect_error(
        plant,
        "cannot make a tool from plant(), parameter 'tree': type Node is recursive; tool "
        "schemas are inlined for the realtime models, so recursive types are not supported "
        "(use a flat structure or a JSON string)",
    )


def test_unresolvable_string_annotation() -> None:
    def f(x: Missing) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    expect_error(
        f,
        "cannot make a tool from f(), parameter 'x': annotation 'Missing' cannot be resolved "
        "(NameError: name 'Missing' is not defined); define the types a tool uses at module "
        "level",
    )


def test_unresolvable_return_annotation_is_ignored() -> None:
    def f(x: int) -> Missing:  # type: ignore[name-defined]  # noqa: F821
        return x

    assert tool(f).schema()["parameters"]["required"] == ["x"]


def test_typing_typeddict_on_old_pythons_names_the_parameter() -> None:
    def f(filters: PlainTypedDict) -> None: ...

    if sys.version_info >= (3, 12):
        assert tool(f).schema()["parameters"]["required"] == ["filters"]
        return
    with pytest.raises(ToolDefinitionError) as caught:
        tool(f)
    assert caught.value.parameter == "filters"
    assert "typing_extensions.TypedDict" in str(caught.value)


def test_two_context_parameters() -> None:
    def f(a: ToolContext, b: ToolContext[int]) -> None: ...

    expect_error(
        f,
        "cannot make a tool from f(), parameter 'b': only one parameter may be annotated with "
        "ToolContext",
    )


def test_lambda_needs_a_name() -> None:
    expect_error(
        lambda: None,
        "cannot make a tool from <lambda>(): tool name '<lambda>' must be 1-64 letters, "
        "digits, '_' or '-'; pass name=...",
    )
    assert tool(name="noop")(lambda: None).name == "noop"


def test_name_option_is_checked() -> None:
    def f() -> None: ...

    expect_error(
        f,
        "cannot make a tool from f(): tool name 'get weather' must be 1-64 letters, digits, "
        "'_' or '-'; pass name=...",
        name="get weather",
    )


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf"), True])
def test_timeout_must_be_positive_seconds(timeout: float) -> None:
    def f() -> None: ...

    expect_error(
        f,
        "cannot make a tool from f(): timeout must be a positive number of seconds, "
        f"not {timeout!r}",
        timeout=timeout,
    )


def test_integer_timeout_becomes_float() -> None:
    def f() -> None: ...

    assert tool(timeout=3)(f).timeout == 3.0
