"""Durable sessions: tools that run on a task engine, and a store that outlives a process.

This package needs nothing beyond agentkit itself; the backends do:
:mod:`agentkit.background.celery` (Celery) and :mod:`agentkit.background.redis` (the update log
and :class:`~agentkit.background.redis.RedisSessionStore`) need the ``celery`` extra. See
``docs/scaling.md``.
"""

from __future__ import annotations

from agentkit.background.base import (
    BackgroundError,
    BackgroundJob,
    BackgroundResult,
    BackgroundRunner,
    BackgroundUpdate,
    Delivery,
    UpdateSource,
    acknowledgement,
    job_for,
    result_message,
    session_key,
)
from agentkit.background.store import (
    InMemorySessionStore,
    Lease,
    LeaseLostError,
    SessionRecord,
    SessionStore,
    acquire_when_free,
    carry_usage,
    record_of,
    resume,
)

__all__ = [
    "BackgroundError",
    "BackgroundJob",
    "BackgroundResult",
    "BackgroundRunner",
    "BackgroundUpdate",
    "Delivery",
    "InMemorySessionStore",
    "Lease",
    "LeaseLostError",
    "SessionRecord",
    "SessionStore",
    "UpdateSource",
    "acknowledgement",
    "acquire_when_free",
    "carry_usage",
    "job_for",
    "record_of",
    "result_message",
    "resume",
    "session_key",
]
