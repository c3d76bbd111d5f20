"""Tool and parameter descriptions from a docstring (Google, NumPy, reST or Epydoc style)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docstring_parser

__all__ = ["DocInfo", "parse_docstring"]


@dataclass(frozen=True)
class DocInfo:
    """What a docstring says about a function.

    Attributes:
        description: the summary line and long description, separated by a blank line.
        parameters: each documented parameter's description, by parameter name.
    """

    description: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def parse_docstring(func: Callable[..., Any]) -> DocInfo:
    """Read a function's docstring; the style is detected, so every team's habit works.

    The sections that are not about *calling* the tool (returns, raises, examples) are left out:
    they cost tokens in every ``session.update`` and rarely change what the model does.
    """
    while isinstance(func, functools.partial):  # its own docstring is partial's class doc
        func = func.func
    text = inspect.getdoc(func)
    if not text:
        return DocInfo()
    parsed = docstring_parser.parse(text)
    parts = [p.strip() for p in (parsed.short_description, parsed.long_description) if p]
    parameters = {
        p.arg_name: " ".join(p.description.split())
        for p in parsed.params
        if p.description and p.description.strip()
    }
    return DocInfo("\n\n".join(parts), parameters)
