"""Redis parts: the update log of background jobs, and a fenced :class:`RedisSessionStore`.

Needs the ``celery`` extra (``pip install "agentkit-realtime[celery]"``), which brings redis-py.

Keys, under a prefix (``agentkit`` by default), per session key ``K``:

- ``{prefix}:bg:{K}:updates``: a stream of progress and result entries (kept until trimmed);
- ``{prefix}:bg:{K}:done:{call_id}``: set once, atomically with the result entry, so a job run
  twice (a worker lost mid-task) posts its result once;
- ``{prefix}:bg:{K}:cursor``: the last entry spoken into the conversation;
- ``{prefix}:session:{K}``, ``{prefix}:lease:{K}``, ``{prefix}:fence:{K}``: the session record,
  its lease (``owner:token``, with a TTL) and the key's fencing counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

try:
    import redis as sync_redis
    import redis.asyncio as aioredis
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        'agentkit.background.redis needs redis-py: pip install "agentkit-realtime[celery]"'
    ) from exc

from agentkit.background.base import BackgroundError, BackgroundJob, BackgroundUpdate
from agentkit.background.store import Lease, LeaseLostError, SessionRecord, _check_ttl
from agentkit.tools.result import ToolResult

__all__ = ["RedisSessionStore", "RedisUpdates", "UpdatePoster"]

# Post a result only if no result was posted for the call before: one atomic step, so that a
# worker killed between the check and the write cannot leave a result half-posted.
_POST_ONCE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', 'kind', 'result', 'call_id', ARGV[1],
                    'tool', ARGV[3], 'text', ARGV[4], 'is_error', ARGV[5])
end
return false
"""

_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Write (or delete, with an empty value) the record only under the current lease.
_FENCED_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2]) end
return 1
"""


def _keys(prefix: str, key: str) -> tuple[str, str]:
    return f"{prefix}:bg:{key}:updates", f"{prefix}:bg:{key}:cursor"


class UpdatePoster:
    """The worker's side: post progress and, once per call, the result (synchronous redis-py).

    Args:
        url: the Redis URL (``redis://host:port/db``).
        prefix: the key prefix shared with :class:`RedisUpdates`.
        done_ttl: seconds a call stays marked as answered (longer than any redelivery).
    """

    def __init__(self, url: str, *, prefix: str = "agentkit", done_ttl: int = 7 * 86_400) -> None:
        self._client = sync_redis.Redis.from_url(url)
        self._prefix = prefix
        self._done_ttl = done_ttl
        self._post_once = self._client.register_script(_POST_ONCE)

    def _done_key(self, job: BackgroundJob) -> str:
        return f"{self._prefix}:bg:{job.session_key}:done:{job.call_id}"

    def answered(self, job: BackgroundJob) -> bool:
        """Whether the call's result was posted already (a redelivered job skips its work)."""
        return bool(self._client.exists(self._done_key(job)))

    def progress(self, job: BackgroundJob, message: str) -> None:
        stream, _ = _keys(self._prefix, job.session_key)
        fields: dict[Any, Any] = {"kind": "progress", "call_id": job.call_id}
        fields.update(tool=job.tool_name, text=message)
        self._client.xadd(stream, fields)

    def result(self, job: BackgroundJob, result: ToolResult) -> bool:
        """Post the result unless one was posted for this call; true if this one was."""
        stream, _ = _keys(self._prefix, job.session_key)
        keys = [self._done_key(job), stream]
        flag = "1" if result.is_error else "0"
        args: list[Any] = [job.call_id, self._done_ttl, job.tool_name, result.output, flag]
        return self._post_once(keys=keys, args=args) is not None

    def close(self) -> None:
        self._client.close()


class RedisUpdates:
    """The owning process's side: read a session key's updates and remember what was spoken.

    Args:
        url: the Redis URL.
        prefix: the key prefix shared with :class:`UpdatePoster`.
    """

    def __init__(self, url: str, *, prefix: str = "agentkit") -> None:
        self._client = aioredis.Redis.from_url(url)
        self._prefix = prefix

    async def read(self, key: str, after: str, block: float) -> Sequence[BackgroundUpdate]:
        stream, _ = _keys(self._prefix, key)
        streams: dict[Any, Any] = {stream: after}
        try:
            reply: Any = await self._client.xread(streams, count=100, block=_ms(block))
        except sync_redis.RedisError as exc:
            raise BackgroundError(f"reading updates from Redis failed: {exc}") from exc
        return [
            _update(entry_id, fields) for _, entries in reply or () for entry_id, fields in entries
        ]

    async def cursor(self, key: str) -> str:
        _, cursor = _keys(self._prefix, key)
        try:
            value: Any = await self._client.get(cursor)
        except sync_redis.RedisError as exc:
            raise BackgroundError(f"reading the cursor from Redis failed: {exc}") from exc
        return value.decode() if value else "0"

    async def delivered(self, key: str, entry_id: str) -> None:
        _, cursor = _keys(self._prefix, key)
        try:
            await self._client.set(cursor, entry_id)
        except sync_redis.RedisError as exc:
            raise BackgroundError(f"saving the cursor to Redis failed: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()


def _update(entry_id: bytes, fields: dict[bytes, bytes]) -> BackgroundUpdate:
    text = {name.decode(): value.decode() for name, value in fields.items()}
    return BackgroundUpdate(
        entry_id=entry_id.decode(),
        kind="result" if text.get("kind") == "result" else "progress",
        call_id=text.get("call_id", ""),
        tool_name=text.get("tool", ""),
        text=text.get("text", ""),
        is_error=text.get("is_error") == "1",
    )


class RedisSessionStore:
    """A :class:`~agentkit.background.store.SessionStore` in Redis (redis-py asyncio).

    The lease is a key with a TTL holding ``owner:token``; the token comes from a per-key
    counter, so it grows with each new lease. Records are written by a script that checks the
    lease first, in the same step: a worker whose lease expired (a long pause, a partition)
    cannot overwrite what the new owner wrote.

    One store serves every session of a process: its commands share a pool of
    ``max_connections`` connections and, when all are busy, wait up to ``pool_timeout``
    seconds for one (rather than fail, as redis-py's default pool does past 100).

    Args:
        url: the Redis URL.
        prefix: the key prefix.
        max_connections: connections to Redis at most.
        pool_timeout: seconds a command may wait for a free connection.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "agentkit",
        max_connections: int = 100,
        pool_timeout: float = 20.0,
    ) -> None:
        self._pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=pool_timeout
        )
        self._client = aioredis.Redis(connection_pool=self._pool)
        self._prefix = prefix
        self._acquire = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self._write = self._client.register_script(_FENCED_WRITE)

    def _names(self, key: str) -> tuple[str, str, str]:
        p = self._prefix
        return f"{p}:lease:{key}", f"{p}:fence:{key}", f"{p}:session:{key}"

    async def acquire(self, key: str, owner: str, ttl: float) -> Lease | None:
        _check_ttl(ttl)
        lease_key, fence, _ = self._names(key)
        token = await self._acquire(keys=[lease_key, fence], args=[owner, _ms(ttl)])
        return None if token is None else Lease(key, owner, int(token), ttl)

    async def renew(self, lease: Lease) -> Lease:
        lease_key, _, _ = self._names(lease.key)
        renewed = await self._renew(keys=[lease_key], args=[_held(lease), _ms(lease.ttl)])
        if not renewed:
            raise LeaseLostError(f"the lease on {lease.key!r} (token {lease.token}) is lost")
        return lease

    async def release(self, lease: Lease) -> None:
        lease_key, _, _ = self._names(lease.key)
        await self._release(keys=[lease_key], args=[_held(lease)])

    async def holder(self, key: str) -> str | None:
        lease_key, _, _ = self._names(key)
        held = cast("bytes | None", await self._client.get(lease_key))
        return None if held is None else held.decode().rpartition(":")[0]

    async def load(self, key: str) -> SessionRecord | None:
        _, _, record = self._names(key)
        text = cast("bytes | None", await self._client.get(record))
        return None if text is None else SessionRecord.from_json(text)

    async def save(self, record: SessionRecord, lease: Lease) -> None:
        await self._fenced(record.key, lease, record.to_json())

    async def delete(self, key: str, lease: Lease) -> None:
        await self._fenced(key, lease, "")

    async def _fenced(self, key: str, lease: Lease, value: str) -> None:
        if key != lease.key:
            raise LeaseLostError(f"the lease is for {lease.key!r}, not {key!r}")
        lease_key, _, record = self._names(key)
        written: Any = await self._write(keys=[lease_key, record], args=[_held(lease), value])
        if not written:
            raise LeaseLostError(f"the lease on {key!r} (token {lease.token}) is lost")

    async def close(self) -> None:
        await self._client.aclose()
        await self._pool.disconnect()


def _held(lease: Lease) -> str:
    return f"{lease.owner}:{lease.token}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
