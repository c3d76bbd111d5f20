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
    BackgroundRunner,
    BackgroundUpdate,
    Delivery,
    UpdateSource,
    acknowledgement,
    job_for,
    result_message,
    session_key,
)
from agentkit.background.base import BackgroundResult as BackgroundResult
from agentkit.background.store import (
    InMemorySessionStore,
    Lease,
    LeaseLostError,
    SessionRecord,
    SessionStore,
    record_of,
    resume,
)
from agentkit.background.store import carry_usage as carry_usage

__all__ = [
    "BackgroundError",
    "BackgroundJob",
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
    "job_for",
    "record_of",
    "result_message",
    "resume",
    "session_key",
]
