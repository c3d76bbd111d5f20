"""Shared test helpers. Every wait in the suite derives from TIMEOUT, scaled by one env var."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from agentkit import Session
from agentkit.events import Event, ResponseFinished, SessionClosed

TIMEOUT = 5.0 * float(os.environ.get("AGENTKIT_TEST_TIMEOUT_SCALE", "1"))


async def until_idle(session: Session) -> list[Event]:
    """Every event until a response finishes with nothing left to do (no bare waits)."""

    async def collect() -> list[Event]:
        seen: list[Event] = []
        async for event in session:
            seen.append(event)
            if isinstance(event, SessionClosed):
                raise AssertionError(f"session closed: {event}")
            if isinstance(event, ResponseFinished) and session.idle:
                return seen
        return seen

    return await asyncio.wait_for(collect(), TIMEOUT)


async def until_event(session: Session, wanted: type[Event]) -> list[Event]:
    """Every event up to and including the first of type ``wanted``."""
    seen: list[Event] = []

    async def collect() -> None:
        async for event in session:
            seen.append(event)
            if isinstance(event, wanted):
                return

    await asyncio.wait_for(collect(), TIMEOUT)
    return seen


async def eventually(
    check: Callable[[], Any],
    what: str,
    *,
    timeout: float = TIMEOUT,
    details: Callable[[], str] | None = None,
) -> Any:
    """``check()``'s first true value, for a condition no event announces (another process, a
    store, a handler's list). ``check`` may be async. Fails after ``timeout`` naming ``what``,
    with ``details()`` if given."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{details()}" if details is not None else ""
            raise AssertionError(f"timed out waiting for {what}{extra}")
        await asyncio.sleep(0.02)


async def ask(session: Session, text: str) -> list[Event]:
    """Send ``text`` and collect events until the session is idle after a response."""
    await session.send_text(text)
    return await until_idle(session)


def run_without(modules: Sequence[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``modules`` cannot be imported, as in an
    install without the extra that brings them."""
    blocked = "import sys; " + "".join(f"sys.modules[{name!r}] = None; " for name in modules)
    return subprocess.run(
        [sys.executable, "-c", blocked + code],
        capture_output=True,
        text=True,
        timeout=6 * TIMEOUT,
        check=False,
    )
