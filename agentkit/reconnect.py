"""Reconnection policy: what is worth retrying, how long to wait, and how to retry with tenacity.

The decisions are pure functions (:func:`is_retryable`, :meth:`ReconnectPolicy.delay`), so they are
tested without sockets; :func:`connect_with_retry` applies them to a connector with tenacity.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
)

from agentkit.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionClosedError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    HandshakeError,
    RateLimitedError,
)

__all__ = [
    "RETRYABLE_CLOSE_CODES",
    "ReconnectPolicy",
    "connect_with_retry",
    "is_expiry",
    "is_retryable",
]

T = TypeVar("T")

RETRYABLE_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1015})
"""Close codes after which a new connection can succeed (the OpenAI SDK's list)."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try to get a session back.

    Attributes:
        enabled: reconnect at all (``False``: a drop ends the session).
        max_attempts: connection attempts per outage.
        max_seconds: total time per outage, waits included.
        initial_delay / max_delay: exponential backoff bounds in seconds (full jitter on top).
        replay_items: most recent conversation items replayed into the new session.
        max_audio_age: queued input audio older than this (seconds) is dropped, not sent late.
        expiry_margin: roll over to a fresh socket this many seconds before the service's
            maximum session duration ends it (``None``: only recover after it does).
    """

    enabled: bool = True
    max_attempts: int = 6
    max_seconds: float = 60.0
    initial_delay: float = 0.25
    max_delay: float = 8.0
    replay_items: int = 200
    max_audio_age: float = 2.0
    expiry_margin: float | None = 60.0

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``; a server's Retry-After wins."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return float(min(error.retry_after, self.max_seconds))
        ceiling: float = min(self.max_delay, self.initial_delay * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def is_retryable(error: BaseException) -> bool:
    """Whether a new connection attempt can succeed after ``error``.

    Network failures, abnormal closes, 429 and 5xx handshakes can; 401/403/404, other 4xx and
    configuration mistakes cannot, so they fail fast instead of looping.
    """
    if isinstance(error, (AuthenticationError, DeploymentNotFoundError, ConfigurationError)):
        return False
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, HandshakeError):
        return error.status >= 500
    if isinstance(error, ConnectionClosedError):
        return error.code in RETRYABLE_CLOSE_CODES
    return isinstance(error, (ConnectionFailedError, OSError, asyncio.TimeoutError))


def is_expiry(code: int | None, reason: str) -> bool:
    """Whether a close means the service's maximum session duration was reached."""
    return code == 1001 and "maximum duration" in reason.lower()


async def connect_with_retry(
    connector: Callable[[], Awaitable[T]],
    policy: ReconnectPolicy,
    *,
    before_attempt: Callable[[int, float, BaseException | None], Awaitable[None]] | None = None,
) -> T:
    """Call ``connector`` until it succeeds, the error is not retryable, or the budget is spent.

    ``before_attempt(attempt, delay, last_error)`` runs before each attempt (for events).
    The last error is re-raised as it is when the retries stop.
    """
    last_error: list[BaseException | None] = [None]

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return policy.delay(state.attempt_number, error)

    retrying = AsyncRetrying(
        stop=stop_any(
            stop_after_attempt(policy.max_attempts), stop_after_delay(policy.max_seconds)
        ),
        wait=wait,
        retry=retry_if_exception(is_retryable),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            number = attempt.retry_state.attempt_number
            if before_attempt is not None:
                delay = attempt.retry_state.idle_for
                await before_attempt(number, delay, last_error[0])
            try:
                return await connector()
            except BaseException as exc:
                last_error[0] = exc
                raise
    raise AssertionError("unreachable: tenacity either returns or re-raises")
