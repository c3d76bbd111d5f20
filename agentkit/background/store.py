"""Where a session's durable state lives, and who may drive the session: a fenced lease.

:class:`SessionStore` is the small interface; :class:`InMemorySessionStore` keeps records in
this process (today's behaviour: nothing outlives it, no dependency) and
:class:`agentkit.background.redis.RedisSessionStore` keeps them in Redis for services whose
workers come and go. A worker drives a session only while it holds the session's
:class:`Lease`; every lease carries a fencing token, larger than any before it for that key, and
a write made with a lease that is no longer current fails with :class:`LeaseLostError`, so two
workers never both write (or speak into) one session.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from agentkit._redact import MASK, Secret
from agentkit.errors import AgentkitError
from agentkit.history import Entry, replay_item
from agentkit.protocol.client_events import ConversationItemCreate, new_item_id, system_message
from agentkit.usage import TokenUsage

if TYPE_CHECKING:
    from agentkit.session import Session

__all__ = [
    "InMemorySessionStore",
    "Lease",
    "LeaseLostError",
    "SessionRecord",
    "SessionStore",
    "acquire_when_free",
    "carry_usage",
    "record_of",
    "resume",
]


class LeaseLostError(AgentkitError):
    """The lease expired or another worker took the session over: stop driving it."""


@dataclass
class SessionRecord:
    """A session's durable state: enough for another worker to carry on.

    Attributes:
        key: the durable key (the application's conversation id, not the service's).
        agent_name: which agent was talking (the application maps it back to an ``Agent``).
        config: the agent's session configuration, as sent in ``session.update``, with every
            credential in it (a hosted MCP server's headers) masked: a store never holds them,
            the worker taking over builds its own agent.
        history: the conversation items agentkit restores from (``HistoryItem`` fields).
        calls_in_flight: ``call_id`` -> ``{"tool": name, "arguments": json}`` of calls
            started and not yet answered (background jobs included).
        usage: token counts so far (``TokenUsage`` fields).
        call_id: the phone or WebRTC call a :class:`~agentkit.calls.SidebandSession` drives
            (``None`` for a session with a socket of its own): the worker taking over attaches
            a new sideband to this call, which kept its conversation at the service.
    """

    key: str
    agent_name: str
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    calls_in_flight: dict[str, dict[str, str]] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    call_id: str | None = None

    def to_json(self) -> str:
        # Shallow, not dataclasses.asdict: that deep-copies the history, on every save.
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionRecord:
        data = json.loads(text)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


@dataclass(frozen=True)
class Lease:
    """The right to drive one session until ``ttl`` seconds pass without a renewal.

    Attributes:
        key: the session's durable key.
        owner: who holds it (a worker id of your choice).
        token: the fencing token: it grows with every new lease on the key.
        ttl: seconds the lease lasts from its last renewal.
    """

    key: str
    owner: str
    token: int
    ttl: float


class SessionStore(Protocol):
    """Durable session records and the leases that fence them."""

    async def acquire(self, key: str, owner: str, ttl: float) -> Lease | None:
        """Take the session's lease, or ``None`` while someone else's is live."""
        ...

    async def renew(self, lease: Lease) -> Lease:
        """Extend a lease; raises :class:`LeaseLostError` if it is no longer current."""
        ...

    async def release(self, lease: Lease) -> None:
        """Give a lease up (nothing happens if it is no longer current)."""
        ...

    async def holder(self, key: str) -> str | None:
        """The owner of the session's live lease (``None``: nobody drives it now)."""
        ...

    async def load(self, key: str) -> SessionRecord | None:
        """The session's last saved record, if any."""
        ...

    async def save(self, record: SessionRecord, lease: Lease) -> None:
        """Write the record; raises :class:`LeaseLostError` unless ``lease`` is current."""
        ...

    async def delete(self, key: str, lease: Lease) -> None:
        """Forget the session; raises :class:`LeaseLostError` unless ``lease`` is current."""
        ...


class InMemorySessionStore:
    """A :class:`SessionStore` in this process: leases work between tasks, nothing survives it.

    The default for a single process: no dependency, the same interface as the Redis store.
    """

    def __init__(self) -> None:
        self._records: dict[str, str] = {}
        self._leases: dict[str, tuple[str, int, float]] = {}  # key -> owner, token, expiry
        self._tokens: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, key: str, owner: str, ttl: float) -> Lease | None:
        _check_ttl(ttl)
        async with self._lock:
            held = self._leases.get(key)
            if held is not None and held[2] > time.monotonic():
                return None
            token = self._tokens.get(key, 0) + 1
            self._tokens[key] = token
            self._leases[key] = (owner, token, time.monotonic() + ttl)
            return Lease(key, owner, token, ttl)

    async def renew(self, lease: Lease) -> Lease:
        async with self._lock:
            self._check(lease)
            self._leases[lease.key] = (lease.owner, lease.token, time.monotonic() + lease.ttl)
            return lease

    async def release(self, lease: Lease) -> None:
        async with self._lock:
            if self._current(lease):
                del self._leases[lease.key]

    async def holder(self, key: str) -> str | None:
        held = self._leases.get(key)
        return held[0] if held is not None and held[2] > time.monotonic() else None

    async def load(self, key: str) -> SessionRecord | None:
        text = self._records.get(key)
        return None if text is None else SessionRecord.from_json(text)

    async def save(self, record: SessionRecord, lease: Lease) -> None:
        async with self._lock:
            self._check(lease, record.key)
            self._records[record.key] = record.to_json()  # a copy: later edits stay unsaved

    async def delete(self, key: str, lease: Lease) -> None:
        async with self._lock:
            self._check(lease, key)
            self._records.pop(key, None)

    def _current(self, lease: Lease) -> bool:
        held = self._leases.get(lease.key)
        return (
            held is not None
            and held[:2] == (lease.owner, lease.token)
            and held[2] > time.monotonic()
        )

    def _check(self, lease: Lease, key: str | None = None) -> None:
        if key is not None and key != lease.key:
            raise LeaseLostError(f"the lease is for {lease.key!r}, not {key!r}")
        if not self._current(lease):
            raise LeaseLostError(f"the lease on {lease.key!r} (token {lease.token}) is lost")


async def acquire_when_free(
    store: SessionStore, key: str, owner: str, ttl: float, *, timeout: float, poll: float = 0.1
) -> Lease | None:
    """Take the session's lease as soon as it is free, waiting up to ``timeout`` seconds.

    For a worker that a client (a browser reconnecting, a call's webhook) reaches while the
    previous worker may still hold the session: that one releases the lease when it lets the
    session go, or its lease expires within its ttl if it died. ``None`` when the lease is
    still held after ``timeout`` (the session is alive elsewhere: ``store.holder(key)``).
    """
    deadline = time.monotonic() + timeout
    while (lease := await store.acquire(key, owner, ttl)) is None:
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))
    return lease


def record_of(session: Session, key: str) -> SessionRecord:
    """A snapshot of a live session's durable state, to save under its lease."""
    from agentkit.calls.sideband import SidebandSession

    calls = {
        call.call_id: {"tool": call.name, "arguments": call.arguments}
        for call in session.state.calls.values()
        if not call.posted
    }
    return SessionRecord(
        key=key,
        agent_name=session.agent.name,
        config=session.agent.session_config().model_dump(
            mode="json", exclude_none=True, fallback=_masked
        ),
        history=[_as_json(entry) for entry in session.state.history.values()],
        calls_in_flight=calls,
        usage=session.usage.model_dump(mode="json"),
        call_id=session.call_id if isinstance(session, SidebandSession) else None,
    )


def _as_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as JSON gives them back (a tuple as a list): a record equals its saved copy."""
    return {name: list(v) if isinstance(v, tuple) else v for name, v in fields.items()}


async def resume(session: Session, record: SessionRecord) -> int:
    """Carry a saved conversation on in a fresh session (a worker taking it over).

    Messages with words, and calls with their outputs, are sent again as conversation items,
    then a system note tells the model the conversation continues; a call that never got an
    output (it ran in the process that died) is left out and named in the note, so no output
    is ever posted for it. The record's token usage is added to the session's, so
    ``session.usage`` (and ``session.cost``, with prices) counts the whole conversation.

    A :class:`~agentkit.calls.SidebandSession` attached to the record's own call (its
    ``call_id``) gets nothing replayed: the service kept the call's conversation, and sending
    it again would double every item. Only lost calls are named, in the same system note
    (sent only when there are any); they get no output either, since the worker that died
    may have posted one just before its last save.

    Returns:
        How many items were replayed (``0`` on a sideband of the record's call).
    """
    answered = {i["call_id"] for i in record.history if i["type"] == "function_call_output"}
    called = {i["call_id"] for i in record.history if i["type"] == "function_call"}
    lost = [
        f"{i['name']} (call {i['call_id']})"
        for i in record.history
        if i["type"] == "function_call" and i["call_id"] not in answered
    ]
    replayed = 0
    if _same_call(session, record):
        if lost:
            note = "These tool calls were lost and have no result: " + ", ".join(lost) + "."
            await session.send_event(system_message(note, item_id=new_item_id()))
        carry_usage(session, record.usage)
        return replayed
    for entry in record.history:
        kind, call_id = entry["type"], entry.get("call_id")
        if kind == "function_call" and call_id not in answered:
            continue
        if kind == "function_call_output" and call_id not in called:
            continue
        item = replay_item(cast(Entry, entry))
        if item is not None:
            await session.send_event(ConversationItemCreate(item=item))
            replayed += 1
    note = "The conversation above continues after a pause; do not greet the user again."
    if lost:
        note += " These tool calls were lost and have no result: " + ", ".join(lost) + "."
    await session.send_event(system_message(note, item_id=new_item_id()))
    carry_usage(session, record.usage)
    return replayed


def _same_call(session: Session, record: SessionRecord) -> bool:
    """Whether ``session`` is a sideband of the call the record was saved from."""
    from agentkit.calls.sideband import SidebandSession

    return (
        record.call_id is not None
        and isinstance(session, SidebandSession)
        and session.call_id == record.call_id
    )


def carry_usage(session: Session, usage: dict[str, int]) -> None:
    """Add the token counts of an earlier part of the conversation to ``session.usage``.

    With prices, their cost is added to ``session.cost`` too (or makes it unknown, when a
    kind used has no price), as if those responses had run in this session.
    """
    counts = {name: int(usage.get(name, 0)) for name in TokenUsage.model_fields}
    if any(counts.values()):
        session._meter.add_earlier(TokenUsage(**counts))


def _masked(value: Any) -> str:
    """What a record holds for a value JSON cannot hold: a credential's mask, nothing else."""
    if isinstance(value, Secret):
        return MASK
    raise TypeError(f"a session record cannot hold a {type(value).__name__}")


def _check_ttl(ttl: float) -> None:
    if isinstance(ttl, bool) or not (isinstance(ttl, (int, float)) and ttl > 0):
        raise ValueError(f"a lease ttl must be a positive number of seconds, not {ttl!r}")
