"""Run a tool function and turn whatever happens into a :class:`ToolResult`.

Sync functions run in a worker thread (see ``agentkit._workers``) so a slow or blocking tool
never stalls the event loop that is streaming audio; async functions run on the loop itself, and
so do sync functions declared ``blocking=False``. A sync function that the dispatcher times out
keeps running in its thread until it returns: Python cannot kill a thread, so give blocking calls
their own timeouts.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from agentkit._workers import SyncCalls
from agentkit.tools.result import ToolResult, to_result

__all__ = ["ErrorMessage", "default_error_message", "is_async_callable", "run_tool"]

logger = logging.getLogger("agentkit.tools")

ErrorMessage = Callable[[Exception], str]
"""Builds the message the model sees when a tool raises (the traceback goes to the log only)."""


def default_error_message(exc: Exception) -> str:
    """``"ValueError: unknown city 'Atlantis'"``: enough for a model to change course."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_async_callable(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` returns a coroutine (async functions and async ``__call__``)."""
    target = inspect.unwrap(func)
    if inspect.iscoroutinefunction(target):
        return True
    call = type(target).__call__ if not inspect.isroutine(target) else None
    return inspect.iscoroutinefunction(call)  # callable objects with an async __call__


async def run_tool(
    func: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    tool_name: str,
    error_message: ErrorMessage,
    is_async: bool | None = None,
    blocking: bool = True,
    sync_calls: SyncCalls | None = None,
) -> ToolResult:
    """Call the tool and convert its return value or exception; only cancellation escapes.

    ``asyncio.CancelledError`` is a ``BaseException``, so ``except Exception`` lets the
    dispatcher's cancellation through untouched. ``is_async`` saves inspecting ``func`` on
    every call when the caller already knows. A sync ``func`` runs in a worker thread through
    ``sync_calls`` (the tool's own, which learns whether its calls are quick; a fresh one when
    ``None``), or on the event loop itself when ``blocking`` is false.
    """
    if is_async is None:
        is_async = is_async_callable(func)
    try:
        if is_async:
            value = await func(*args, **kwargs)
        elif blocking:
            calls = sync_calls if sync_calls is not None else SyncCalls()
            value = await _awaited(await calls.call(func, args, kwargs))
        else:
            value = await _awaited(func(*args, **kwargs))
        return to_result(value)
    except Exception as exc:
        logger.exception("tool %s raised", tool_name)
        # On the current span: the tool's own when tracing is on, a no-op otherwise.
        trace.get_current_span().record_exception(exc)
        return ToolResult.error(f"{tool_name} failed: {_safe_message(error_message, exc)}")


async def _awaited(value: Any) -> Any:
    if inspect.isawaitable(value):  # a sync wrapper around a coroutine function
        value = await value
    return value


def _safe_message(error_message: ErrorMessage, exc: Exception) -> str:
    """The configured message; a broken message builder must not break the call."""
    try:
        return error_message(exc)
    except Exception:
        logger.exception("error_message builder failed")
        return default_error_message(exc)
