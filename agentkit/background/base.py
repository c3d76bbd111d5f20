"""The seam between a session and a task engine: jobs, updates, and their delivery.

A background tool's call becomes a :class:`BackgroundJob`, keyed by the session's durable key
and the call's ``call_id``. The engine runs it elsewhere; its progress and result come back as
:class:`BackgroundUpdate` entries from an :class:`UpdateSource`, and :class:`Delivery` speaks
them into whichever session is attached to the key now. A backend (Celery, arq, Dramatiq...)
implements :class:`BackgroundRunner`: registering tools, submitting jobs, and an update source.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from agentkit.actions import Call
from agentkit.errors import AgentkitError, SessionClosedError
from agentkit.events import BackgroundResult, Event, ResponseFinished, ToolCallFinished
from agentkit.protocol.client_events import new_item_id, system_message, user_message
from agentkit.tools.context import ToolContext
from agentkit.tools.result import ToolResult

if TYPE_CHECKING:
    from agentkit.background.store import Lease, SessionStore
    from agentkit.session import Session
    from agentkit.tools.decorator import Tool

__all__ = [
    "BackgroundError",
    "BackgroundJob",
    "BackgroundResult",
    "BackgroundRunner",
    "BackgroundUpdate",
    "Delivery",
    "MessageRole",
    "UpdateSource",
    "acknowledgement",
    "job_for",
    "result_message",
    "session_key",
]

logger = logging.getLogger("agentkit.background")

MessageRole = Literal["user", "system"]

# The durable key of each attached session; weak, so a forgotten session leaves no entry.
_KEYS: weakref.WeakKeyDictionary[Session, str] = weakref.WeakKeyDictionary()


class BackgroundError(AgentkitError):
    """A background tool could not be submitted or its updates could not be read."""


@dataclass(frozen=True)
class BackgroundJob:
    """One call of a background tool, as the engine carries it.

    Attributes:
        session_key: the durable key of the session (see :meth:`BackgroundRunner.attach`),
            which outlives any one process or connection.
        call_id: the model's ``call_id``: the job's idempotency key.
        tool_name: the tool's name, looked up among the worker's registered tools.
        arguments: the model's JSON arguments, already checked against the schema.
    """

    session_key: str
    call_id: str
    tool_name: str
    arguments: str

    def to_payload(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BackgroundJob:
        return cls(**{name: str(payload[name]) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class BackgroundUpdate:
    """A progress report or the final result of a job, read back by the owning process.

    Attributes:
        entry_id: the position in the session's update log (where reading resumes).
        kind: ``"progress"`` or ``"result"``.
        call_id: the job's call.
        tool_name: the tool that ran.
        text: the progress message, or the tool's output.
        is_error: the result is an error output (a ``tool_error`` or ``timeout``).
    """

    entry_id: str
    kind: Literal["progress", "result"]
    call_id: str
    tool_name: str
    text: str
    is_error: bool = False


class UpdateSource(Protocol):
    """Where a backend's updates for one session key are read, and reading is remembered."""

    async def read(self, key: str, after: str, block: float) -> Sequence[BackgroundUpdate]:
        """Updates after ``after`` (``"0"``: from the start), waiting up to ``block`` s."""
        ...

    async def cursor(self, key: str) -> str:
        """The last entry delivered for ``key`` (``"0"`` if none)."""
        ...

    async def delivered(self, key: str, entry_id: str) -> None:
        """Remember that ``entry_id`` was spoken into the conversation."""
        ...

    async def close(self) -> None:
        """Let go of connections (the delivery that owned the source has ended)."""
        ...


class BackgroundRunner(Protocol):
    """A task engine that runs background tools: what ``@tool(background=...)`` takes."""

    def register(self, tool: Tool[Any, Any]) -> None:
        """Know ``tool`` by name, so that a worker importing it can run its jobs."""
        ...

    async def start(
        self, tool: Tool[Any, Any], arguments_json: str, context: ToolContext[Any] | None
    ) -> ToolResult:
        """Submit one call; return the acknowledgement the model gets at once."""
        ...


def session_key(session: Session) -> str | None:
    """The durable key a session was attached under, if any."""
    return _KEYS.get(session)


def job_for(
    tool: Tool[Any, Any], arguments_json: str, context: ToolContext[Any] | None
) -> BackgroundJob:
    """The job of one call; raises :class:`BackgroundError` when its session is not attached."""
    session = context.session if context is not None else None
    key = session_key(session) if session is not None else None
    if context is None or key is None:
        raise BackgroundError(
            f"{tool.name} runs in the background, but its session is not attached to a "
            "runner: use `async with runner.attach(session, key):`"
        )
    return BackgroundJob(key, context.call_id, tool.name, arguments_json)


def acknowledgement(job: BackgroundJob) -> ToolResult:
    """The call's output while the job runs: it tells the model the result comes later."""
    note = (
        f"{job.tool_name} is running in the background. Tell the user it is under way; "
        "its result will arrive in a later message."
    )
    output = json.dumps({"status": "started", "call_id": job.call_id, "note": note})
    return ToolResult(output)


def result_message(update: BackgroundUpdate) -> str:
    """How a finished job enters the conversation (its call already has its one output)."""
    outcome = "failed" if update.is_error else "finished"
    return (
        f"[background task] {update.tool_name} (call {update.call_id}) {outcome}: {update.text}\n"
        "Tell the user the outcome now."
    )


class Delivery:
    """Speaks a key's updates into the session attached to it, until closed.

    Progress becomes a :class:`~agentkit.events.ToolProgress` (and, with ``speak_progress``,
    a short remark by the model); a result becomes a message (``role``) followed by a request
    for a response, then a :class:`BackgroundResult` event. With a ``store`` and ``lease``,
    the delivery keeps the lease alive while it runs (renewing it every third of its ttl, and
    before speaking each update); once the lease is lost, delivery stops and
    :attr:`lease_lost` is set: a session taken over elsewhere is never spoken into twice.
    With ``autosave`` (the default when a store is given), it also saves the session's
    record (:func:`~agentkit.background.store.record_of`) under the lease after every
    finished response and tool call, and once more when it closes, so that a worker taking
    the session over finds a recent one.
    """

    def __init__(
        self,
        session: Session,
        key: str,
        source: UpdateSource,
        *,
        role: MessageRole = "user",
        store: SessionStore | None = None,
        lease: Lease | None = None,
        poll: float = 1.0,
        autosave: bool = True,
    ) -> None:
        if (store is None) != (lease is None):
            raise BackgroundError("pass both store and lease, or neither")
        self.session = session
        self.key = key
        self.lease = lease
        self._source = source
        self._role = role
        self._store = store
        self._poll = poll
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._renewed_at = time.monotonic()
        self.lease_lost = asyncio.Event()
        """Set once the lease is found lost: stop driving the session."""
        self.records_saved = 0
        """How many records this delivery saved to the store."""
        self._autosave = autosave and store is not None
        self._save_wanted = asyncio.Event()
        self._saver: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Delivery:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        """Attach the session to the key and start reading its updates."""
        _KEYS[self.session] = self.key
        self._task = asyncio.create_task(self._run(), name=f"agentkit-background-{self.key}")
        if self._autosave:
            self.session.on(ResponseFinished, self._want_save)
            self.session.on(ToolCallFinished, self._want_save)
            name = f"agentkit-autosave-{self.key}"
            self._saver = asyncio.create_task(self._save_loop(), name=name)

    async def close(self) -> None:
        """Stop reading; the session is no longer attached (jobs already started go on).

        With autosave, the record is saved a last time first, unless the lease is lost.
        """
        if _KEYS.get(self.session) == self.key:
            del _KEYS[self.session]
        task, self._task = self._task, None
        saver, self._saver = self._saver, None
        # A client library may turn the cancellation of a pending read into an error of its
        # own (redis-py does on Python 3.10): the loop then sees the flag and ends anyway.
        self._closing = True
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if saver is not None:
            # Not cancelled mid-save: a Redis command cut off halfway costs its connection.
            self._save_wanted.set()
            limit = self.lease.ttl if self.lease is not None else 5.0
            try:
                await asyncio.wait_for(saver, limit)
                if not self.lease_lost.is_set():
                    await asyncio.wait_for(self.save(), limit)
            except asyncio.TimeoutError:
                logger.warning("the last record of %s could not be saved in time", self.key)
        await self._source.close()

    async def save(self) -> bool:
        """Save the session's record under the lease now; false if it could not be saved.

        A lost lease sets :attr:`lease_lost`; a store that cannot be reached is logged, and
        the next finished response tries again.
        """
        from agentkit.background.store import LeaseLostError, record_of

        if self._store is None or self.lease is None or self.lease_lost.is_set():
            return False
        try:
            await self._store.save(record_of(self.session, self.key), self.lease)
        except LeaseLostError:
            logger.warning("lost the lease on %s: its record is no longer saved", self.key)
            self.lease_lost.set()
            return False
        except Exception as exc:
            logger.warning("saving the record of %s failed (%s)", self.key, exc)
            return False
        self.records_saved += 1
        return True

    def _want_save(self, _event: Event) -> None:
        if not self._closing:
            self._save_wanted.set()

    async def _save_loop(self) -> None:
        """One save at a time, of the latest state: saves wanted meanwhile become one."""
        while not self.lease_lost.is_set():
            await self._save_wanted.wait()
            self._save_wanted.clear()
            if self._closing:
                return
            await self.save()

    async def _run(self) -> None:
        after: str | None = None
        while not self.session.closed and not self._closing:
            try:
                if not await self._keep_lease(only_when_due=True):
                    return
                if after is None:
                    after = await self._source.cursor(self.key)
                updates = await self._source.read(self.key, after, self._block())
                for update in updates:
                    if not await self._keep_lease(only_when_due=False):
                        return
                    await self._tell(update)
                    after = update.entry_id
                    await self._source.delivered(self.key, update.entry_id)
            except SessionClosedError:
                return  # what was not spoken stays in the log for the next owner
            except (OSError, BackgroundError) as exc:
                if self._closing:
                    return
                logger.warning("background delivery for %s failed (%s); retrying", self.key, exc)
                await asyncio.sleep(self._block())
            except Exception:
                if self._closing:
                    return
                logger.exception("background delivery for %s failed; retrying", self.key)
                await asyncio.sleep(self._block())

    def _block(self) -> float:
        """How long one read may wait: short enough to renew the lease in time."""
        return self._poll if self.lease is None else min(self._poll, self.lease.ttl / 3)

    async def _keep_lease(self, *, only_when_due: bool) -> bool:
        """Renew the lease (when a third of its ttl passed, or always); false once lost."""
        if self._store is None or self.lease is None:
            return True
        if only_when_due and time.monotonic() - self._renewed_at < self.lease.ttl / 3:
            return True
        from agentkit.background.store import LeaseLostError

        try:
            self.lease = await self._store.renew(self.lease)
        except LeaseLostError:
            logger.warning("lost the lease on %s: background delivery stops", self.key)
            self.lease_lost.set()
            return False
        except Exception as exc:  # the store is unreachable: not sure, so not now
            raise BackgroundError(f"could not renew the lease: {exc}") from exc
        self._renewed_at = time.monotonic()
        return True

    async def _tell(self, update: BackgroundUpdate) -> None:
        session = self.session
        if update.kind == "progress":
            call = Call(update.call_id, update.tool_name, "", None)
            await session._progress(call, update.text)
            return
        text = result_message(update)
        item = user_message if self._role == "user" else system_message
        item_id = new_item_id()
        await session.send_event(item(text, item_id=item_id))
        await session.create_response()
        told = BackgroundResult(
            key=self.key,
            call_id=update.call_id,
            tool_name=update.tool_name,
            output=update.text,
            is_error=update.is_error,
            item_id=item_id,
        )
        session._emit(told)
