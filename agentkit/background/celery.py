"""Background tools on Celery, with Redis as the broker and the update log.

Needs the ``celery`` extra: ``pip install "agentkit-realtime[celery]"``. See ``docs/scaling.md``.

    app = Celery("reports", broker=REDIS_URL)
    runner = CeleryRunner(app, REDIS_URL)

    @tool(background=runner)
    def build_report(quarter: str) -> dict: ...

    async with Session(agent, endpoint) as session, runner.attach(session, "conversation-42"):
        ...

The worker imports the same module (``celery -A reports worker``), so it knows the tools.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

try:
    from celery import Celery  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        'agentkit.background.celery needs Celery: pip install "agentkit-realtime[celery]"'
    ) from exc

from agentkit.background.base import (
    BackgroundError,
    BackgroundJob,
    Delivery,
    MessageRole,
    acknowledgement,
    job_for,
)
from agentkit.background.redis import RedisUpdates, UpdatePoster
from agentkit.errors import ToolDefinitionError
from agentkit.tools.context import ToolContext
from agentkit.tools.result import ToolResult

if TYPE_CHECKING:
    from agentkit.background.store import Lease, SessionStore
    from agentkit.session import Session
    from agentkit.tools.decorator import Tool

__all__ = ["CeleryRunner"]

logger = logging.getLogger("agentkit.background")

TASK_NAME = "agentkit.background.run"


class CeleryRunner:
    """Runs background tools as Celery tasks; results come back through a Redis stream.

    The task is registered on ``app`` with ``acks_late`` and ``reject_on_worker_lost``: a
    worker that dies mid-task leaves the message unacknowledged, and the broker hands it to
    another worker once its visibility timeout passes (set ``broker_transport_options``'s
    ``visibility_timeout`` above your longest tool). The ``call_id`` is the task id and the
    idempotency key: a redelivered job whose result was posted does nothing, and a result is
    posted at most once per call.

    Args:
        app: the Celery application (its broker may be any Celery broker; the update log is
            Redis at ``redis_url``).
        redis_url: where updates are posted and read.
        queue: the Celery queue for the jobs (``None``: the app's default).
        deps: what tools get as ``ToolContext.deps`` on the worker (the session's ``deps``
            stay in its process).
        role: the role of the message a result arrives in: ``"user"`` (the default) or
            ``"system"``.
        timeout: seconds a job may run on the worker when its tool sets no timeout.
        prefix: the Redis key prefix.
    """

    def __init__(
        self,
        app: Celery,
        redis_url: str,
        *,
        queue: str | None = None,
        deps: Any = None,
        role: MessageRole = "user",
        timeout: float = 3600.0,
        prefix: str = "agentkit",
    ) -> None:
        self.app = app
        self.queue = queue
        self.deps = deps
        self.role: MessageRole = role
        self.timeout = timeout
        self.tools: dict[str, Tool[Any, Any]] = {}
        self.redis_url = redis_url
        self._prefix = prefix
        self._poster: UpdatePoster | None = None

        def run_job(payload: dict[str, Any]) -> str:
            return self._run_job(payload)

        self._task = app.task(
            name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, shared=False
        )(run_job)

    def __repr__(self) -> str:
        return f"<CeleryRunner app={self.app.main!r} tools={sorted(self.tools)}>"

    def register(self, tool: Tool[Any, Any]) -> None:
        if self.tools.get(tool.name, tool) is not tool:
            raise ToolDefinitionError(tool.name, "another background tool has this name")
        self.tools[tool.name] = tool

    async def start(
        self, tool: Tool[Any, Any], arguments_json: str, context: ToolContext[Any] | None
    ) -> ToolResult:
        """Send the job to the broker and acknowledge the call at once."""
        try:
            job = job_for(tool, arguments_json, context)
            await asyncio.to_thread(self.submit, job)
        except BackgroundError as exc:
            return ToolResult.error(str(exc), error_type="background_error")
        except Exception as exc:
            logger.exception("could not submit %s to Celery", tool.name)
            message = f"{tool.name} could not be started: {type(exc).__name__}"
            return ToolResult.error(message, error_type="background_error")
        return acknowledgement(job)

    def submit(self, job: BackgroundJob) -> None:
        """Queue a job (blocking: the broker is written to)."""
        task_id = f"{job.session_key}:{job.call_id}"
        self._task.apply_async(args=[job.to_payload()], task_id=task_id, queue=self.queue)

    def attach(
        self,
        session: Session,
        key: str,
        *,
        store: SessionStore | None = None,
        lease: Lease | None = None,
        autosave: bool = True,
    ) -> Delivery:
        """Make ``session`` the owner of ``key``'s jobs, and speak their updates into it.

        Use it as an async context manager around the session's life. ``key`` is durable:
        a worker taking the session over attaches its new session under the same key and
        gets the results that arrived meanwhile. With ``store`` and ``lease``, the lease is
        kept alive, delivery stops once it is lost, and (unless ``autosave`` is false) the
        session's record is saved after every finished response and tool call.
        """
        source = RedisUpdates(self.redis_url, prefix=self._prefix)
        return Delivery(
            session, key, source, role=self.role, store=store, lease=lease, autosave=autosave
        )

    # -- the worker's side ---------------------------------------------------------------

    def _run_job(self, payload: dict[str, Any]) -> str:
        job = BackgroundJob.from_payload(payload)
        poster = self._poster_now()
        if poster.answered(job):
            logger.info("call %s was answered already: not run again", job.call_id)
            return "duplicate"
        result = asyncio.run(self._execute(job, poster))
        posted = poster.result(job, result)
        return "posted" if posted else "duplicate"

    def _poster_now(self) -> UpdatePoster:
        if self._poster is None:
            self._poster = UpdatePoster(self.redis_url, prefix=self._prefix)
        return self._poster

    async def _execute(self, job: BackgroundJob, poster: UpdatePoster) -> ToolResult:
        tool = self.tools.get(job.tool_name)
        if tool is None:
            message = f"the worker has no background tool named {job.tool_name!r}"
            return ToolResult.error(message, error_type="unknown_tool")

        async def progress(message: str) -> None:
            await asyncio.to_thread(poster.progress, job, message)

        context = ToolContext(
            job.call_id, job.tool_name, deps=self.deps, progress_callback=progress
        )
        limit = tool.timeout if tool.timeout is not None else self.timeout
        try:
            return await asyncio.wait_for(tool.run_here(job.arguments, context), limit)
        except asyncio.TimeoutError:
            message = f"{job.tool_name} did not finish within {limit:g} s"
            return ToolResult.error(message, error_type="timeout")
