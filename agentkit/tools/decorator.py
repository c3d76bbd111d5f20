"""``@tool``: turn a sync or async function into a :class:`Tool` the agent can declare and call."""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from agentkit._workers import SyncCalls
from agentkit.errors import ToolDefinitionError
from agentkit.tools.arguments import InvalidArgumentsError, bind_arguments
from agentkit.tools.context import ToolContext
from agentkit.tools.docstrings import parse_docstring
from agentkit.tools.invoke import (
    ErrorMessage,
    default_error_message,
    is_async_callable,
    run_tool,
)
from agentkit.tools.result import ToolResult
from agentkit.tools.schema import ArgumentsSpec, build_arguments
from agentkit.tools.signature import read_parameters

if TYPE_CHECKING:
    from agentkit.background.base import BackgroundRunner

__all__ = ["Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

# The function-tool name rule of the OpenAI / Azure APIs.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Tool(Generic[P, R]):
    """A function the model can call, with its schema and a safe way to invoke it.

    The object stays callable like the original function (same signature for type checkers), so
    decorating a function never changes how your own code uses it.

    Attributes:
        name: the name the model calls it by.
        description: what the model reads to decide when and how to call it.
        timeout: seconds the dispatcher allows a call, or ``None`` for the session default.
        strict: unknown arguments are rejected and values are not coerced.
        blocking: ``False`` runs a plain ``def`` function on the event loop instead of a worker
            thread (see :func:`tool`).
        background: the task engine that runs each call instead of this process, or ``None``
            (see ``docs/scaling.md``).
        func: the original function.
    """

    # Set by functools.update_wrapper; declared so type checkers see them.
    __name__: str
    __qualname__: str
    __wrapped__: Callable[P, R]

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        strict: bool = False,
        error_message: str | ErrorMessage | None = None,
        blocking: bool = True,
        background: BackgroundRunner | None = None,
    ) -> None:
        functools.update_wrapper(self, func)
        label = getattr(func, "__name__", None) or type(func).__name__
        docs = parse_docstring(func)
        self.func = func
        self.name = _check_name(name if name is not None else label, label)
        self.description = description if description is not None else docs.description
        self.timeout = _check_timeout(timeout, label)
        self.strict = strict
        self.blocking = _check_blocking(blocking, label)
        self._error_message = _error_message_builder(error_message)
        params = read_parameters(func, label)
        module = getattr(func, "__module__", None)
        self._arguments: ArgumentsSpec = build_arguments(
            params, docs, label, strict=strict, module=module
        )
        self._is_async = is_async_callable(func)
        self._sync_calls = SyncCalls()
        self.background = background
        # A background call needs its session and call id, even if the function does not.
        self.takes_context = any(p.injected for p in params) or background is not None
        """Whether the dispatcher must build a :class:`ToolContext` for a call."""
        if background is not None:
            background.register(self)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.name!r} wrapping {self.func!r}>"

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the arguments (a copy; it is safe to modify)."""
        return copy.deepcopy(self._arguments.parameters)

    def schema(self) -> dict[str, Any]:
        """The function tool exactly as sent in ``session.update`` (docs/protocol.md, "Tools").

        Returns:
            ``{"type": "function", "name", "description", "parameters"}``, a fresh copy.
        """
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    async def invoke(
        self, arguments_json: str, context: ToolContext[Any] | None = None
    ) -> ToolResult:
        """Validate the model's JSON arguments, call the function, and describe the outcome.

        Never raises, except ``asyncio.CancelledError``: bad JSON and schema violations give an
        ``"invalid_arguments"`` result, an exception in the tool a ``"tool_error"`` one (with
        the traceback in the ``agentkit.tools`` log). Timeouts are the dispatcher's job.
        ``context`` may be left out for a tool that does not take one (see ``takes_context``).
        A background tool's arguments are checked here, then the call goes to its task engine
        and the result is the engine's immediate acknowledgement.
        """
        if self.background is None:
            return await self.run_here(arguments_json, context)
        try:
            bind_arguments(self._arguments, self.name, arguments_json, context)
        except InvalidArgumentsError as exc:
            return ToolResult.error(str(exc), error_type="invalid_arguments")
        return await self.background.start(self, arguments_json, context)

    async def run_here(
        self, arguments_json: str, context: ToolContext[Any] | None = None
    ) -> ToolResult:
        """:meth:`invoke` in this process, even for a background tool (its worker calls this)."""
        if context is None and self.takes_context:
            context = ToolContext(call_id="", tool_name=self.name)
        try:
            args, kwargs = bind_arguments(self._arguments, self.name, arguments_json, context)
        except InvalidArgumentsError as exc:
            return ToolResult.error(str(exc), error_type="invalid_arguments")
        return await run_tool(
            self.func,
            args,
            kwargs,
            tool_name=self.name,
            error_message=self._error_message,
            is_async=self._is_async,
            blocking=self.blocking,
            sync_calls=self._sync_calls,
        )


@overload
def tool(func: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    strict: bool = False,
    error_message: str | ErrorMessage | None = None,
    blocking: bool = True,
    background: BackgroundRunner | None = None,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    strict: bool = False,
    error_message: str | ErrorMessage | None = None,
    blocking: bool = True,
    background: BackgroundRunner | None = None,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function a tool, bare (``@tool``) or with options (``@tool(timeout=5)``).

    The schema is built now, so a signature that cannot become one fails at import time with a
    :class:`~agentkit.errors.ToolDefinitionError` naming the function and parameter.

    Args:
        func: the function (sync or async); given when used bare.
        name: the name the model sees; defaults to the function's name.
        description: overrides the docstring's summary and long description.
        timeout: seconds the dispatcher allows one call; ``None`` uses the session default.
        strict: reject unknown arguments and do not coerce values (``"3"`` is not an int);
            the schema then says ``additionalProperties: false``.
        error_message: what the model is told when the tool raises: fixed text, or a function
            of the exception. Defaults to ``"ExceptionType: message"``.
        blocking: whether a plain ``def`` function may block. By default (``True``) it runs in
            a worker thread, so that a slow call never holds up the event loop (audio, events,
            other calls): while its calls finish within 0.2 ms, the loop waits that long for
            the answer, never longer, and otherwise not at all. ``blocking=False`` promises
            that the function is quick and never blocks (no I/O, no sleeps, no locks, no heavy
            computation): it then runs on the event loop itself, which saves the hand-off to a
            thread. The loop can neither time out nor interrupt it while it runs. ``async def``
            functions always run on the loop; the option changes nothing for them.
        background: run each call on a task engine (for instance
            :class:`agentkit.background.celery.CeleryRunner`) instead of in this process: the
            model gets an acknowledgement at once and the result arrives later as a message
            (see ``docs/scaling.md``).

    Returns:
        A :class:`Tool`, or a decorator making one when called with options only.
    """

    def decorate(f: Callable[P, R]) -> Tool[P, R]:
        target: Callable[P, R] = f.func if isinstance(f, Tool) else f
        return Tool(
            target,
            name=name,
            description=description,
            timeout=timeout,
            strict=strict,
            error_message=error_message,
            blocking=blocking,
            background=background,
        )

    return decorate if func is None else decorate(func)


def _check_name(name: str, label: str) -> str:
    if not _NAME.match(name):
        message = f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'; pass name=..."
        raise ToolDefinitionError(label, message)
    return name


def _check_timeout(timeout: float | None, label: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not (math.isfinite(timeout) and timeout > 0):
        raise ToolDefinitionError(
            label, f"timeout must be a positive number of seconds, not {timeout!r}"
        )
    return float(timeout)


def _check_blocking(blocking: bool, label: str) -> bool:
    if not isinstance(blocking, bool):
        raise ToolDefinitionError(label, f"blocking must be True or False, not {blocking!r}")
    return blocking


def _error_message_builder(option: str | ErrorMessage | None) -> ErrorMessage:
    if option is None:
        return default_error_message
    if isinstance(option, str):
        return lambda _exc: option
    return option
