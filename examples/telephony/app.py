"""The ASGI app: ``POST /webhooks/openai`` answers phone calls; ``GET /healthz``.

For each verified ``realtime.call.incoming`` webhook the endpoint answers 200 at once and,
beside the request, accepts the call with the agent's configuration and runs the agent on the
call's sideband until the call ends. A webhook that fails verification (a bad signature, a
timestamp out of tolerance, a delivery id already accepted) gets 400 and no call is touched.

Nothing about a call is shared between workers except the replay store: run one process, or
several behind a load balancer with ``REDIS_URL`` set so a replay to any of them is refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agentkit import (
    Agent,
    AgentkitError,
    CallControl,
    ConfigurationError,
    Endpoint,
    IncomingCall,
    Keypad,
    ProtocolError,
    RedisReplayStore,
    ReplayStore,
    SidebandSession,
    WebhookVerificationError,
    WebhookVerifier,
)
from agentkit.events import (
    DtmfReceived,
    ResponseFinished,
    SessionClosed,
    ToolCallFinished,
    ToolCallStarted,
    UserTranscript,
)
from examples.telephony.agent import PhoneCall
from examples.telephony.agent import agent as default_agent

__all__ = ["CallLine", "Switchboard", "create_app"]

logger = logging.getLogger("examples.telephony")

WEBHOOK_PATH = "/webhooks/openai"
MAX_BODY = 64 * 1024
"""A call's webhook is a few hundred bytes; anything much larger is not one."""


@dataclass
class CallLine:
    """A call in progress: what the agent's tools see, and when its milestones pass."""

    phone: PhoneCall
    attached: asyncio.Event = field(default_factory=asyncio.Event)
    replies: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    async def next_reply(self) -> str:
        """The agent's next complete answer (its tool calls done)."""
        return await self.replies.get()

    async def ended(self) -> None:
        """Wait until the call's agent has stopped."""
        if self.task is not None:
            await asyncio.shield(self.task)


@dataclass
class Switchboard:
    """Everything the endpoint needs, and the calls in progress.

    Attributes:
        endpoint: the realtime service and the long-lived key (the sideband uses it).
        control: accepts, refers and hangs up calls (same service and key).
        verifier: checks each webhook; give every worker the same replay store.
        agent: instructions and tools for every call.
        transfer_to: where ``transfer_to_human`` sends callers.
        keypad: how keypad entries reach the model.
        report: where each call's story goes, one line at a time (the log by default).
        lines: the calls in progress, by ``call_id``.
    """

    endpoint: Endpoint
    control: CallControl
    verifier: WebhookVerifier
    agent: Agent = default_agent
    transfer_to: str = "tel:+14155550123"
    keypad: Keypad = field(default_factory=Keypad)
    report: Callable[[str], None] = logger.info
    lines: dict[str, CallLine] = field(default_factory=dict)

    @classmethod
    def from_env(cls, report: Callable[[str], None] = logger.info) -> Switchboard:
        """The service from the environment (``Endpoint.from_env``), ``OPENAI_WEBHOOK_SECRET``,
        ``TRANSFER_TO`` and, behind several workers, ``REDIS_URL`` for the replay store."""
        endpoint = Endpoint.from_env()
        secret = os.environ.get("OPENAI_WEBHOOK_SECRET", "")
        if not secret:
            raise ConfigurationError(
                "set OPENAI_WEBHOOK_SECRET to the signing secret (whsec_...) of the webhook "
                "you registered for realtime.call.incoming"
            )
        store: ReplayStore | None = None
        if redis_url := os.environ.get("REDIS_URL"):
            store = RedisReplayStore(redis_url)
        return cls(
            endpoint=endpoint,
            control=CallControl(endpoint),
            verifier=WebhookVerifier(secret, replay_store=store),
            transfer_to=os.environ.get("TRANSFER_TO", "tel:+14155550123"),
            report=report,
        )

    def answer(self, incoming: IncomingCall) -> CallLine:
        """Accept the call and run the agent on it, beside the webhook's request."""
        phone = PhoneCall(incoming, self.control, self.transfer_to, report=self.report)
        line = self.lines[incoming.call_id] = CallLine(phone)
        line.task = asyncio.get_running_loop().create_task(
            self._run(line), name=f"call-{incoming.call_id}"
        )
        return line

    async def close(self) -> None:
        """Stop every call's agent (the calls themselves go on without it)."""
        tasks = [line.task for line in self.lines.values() if line.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(self.verifier.replay_store, RedisReplayStore):
            await self.verifier.replay_store.aclose()

    async def _run(self, line: CallLine) -> None:
        phone = line.phone
        call_id = phone.call_id
        try:
            await self.control.accept(call_id, self.agent)
            self.report(f"accepted {call_id} as {self.agent.name!r}")
            session = SidebandSession(
                call_id, self.agent, self.endpoint, deps=phone, keypad=self.keypad
            )
            async with session:
                line.attached.set()
                self.report(f"sideband attached to {call_id}")
                async for event in session:
                    await self._on_event(line, session, event)
        except AgentkitError as exc:
            self.report(f"call {call_id} failed: {type(exc).__name__}: {exc}")
        finally:
            line.attached.set()  # nobody waits forever for a call that failed
            self.lines.pop(call_id, None)

    async def _on_event(self, line: CallLine, session: SidebandSession, event: object) -> None:
        phone = line.phone
        if isinstance(event, UserTranscript):
            self.report(f"caller: {event.text}")
        elif isinstance(event, DtmfReceived):
            self.report(f"keypad: {event.key}")
        elif isinstance(event, ToolCallStarted):
            self.report(f"tool {event.name}({event.arguments})")
        elif isinstance(event, ToolCallFinished):
            self.report(f"  -> {event.output}")
        elif isinstance(event, ResponseFinished) and session.idle:
            if event.text:
                self.report(f"agent: {event.text}")
            line.replies.put_nowait(event.text)
            if phone.ending:
                await self.control.hangup(phone.call_id)
                self.report(f"hang-up {phone.call_id}")
        elif isinstance(event, SessionClosed):
            self.report(f"call {phone.call_id} ended")


def create_app(board: Switchboard | None = None) -> Starlette:
    """Build the app.

    Args:
        board: the service, the verifier and the agent; ``None`` reads them from the
            environment at startup (:meth:`Switchboard.from_env`).
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.board = board or Switchboard.from_env()
        logger.info("answering calls at %s with %r", WEBHOOK_PATH, app.state.board.verifier)
        try:
            yield
        finally:
            await app.state.board.close()

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, _webhook, methods=["POST"]),
            Route("/healthz", _healthz),
        ],
        lifespan=lifespan,
    )


async def _webhook(request: Request) -> Response:
    board: Switchboard = request.app.state.board
    body = await _body(request)
    if body is None:
        return JSONResponse({"error": "the body is too large for a webhook"}, status_code=413)
    try:
        incoming = await board.verifier.incoming_call(body, request.headers)
    except WebhookVerificationError as exc:
        logger.warning("%s", exc)  # says which check failed, never the secret
        return JSONResponse({"error": "webhook refused"}, status_code=400)
    except ProtocolError as exc:  # authentic, but another event: acknowledged, not retried
        logger.info("ignored a webhook: %s", exc)
        return Response(status_code=204)
    caller = incoming.header("from") or "?"  # untrusted caller data: quoted as it came
    board.report(f"incoming call {incoming.call_id} from {caller!r}")
    board.answer(incoming)
    return Response(status_code=200)


async def _body(request: Request) -> bytes | None:
    """The request's body, or ``None`` past :data:`MAX_BODY` (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


app = create_app()
"""For ``uvicorn examples.telephony.app:app``: the settings are read from the environment."""
