"""The ASGI app: one page, and a WebSocket that relays each browser to its own realtime session.

Browser -> service, on ``/ws``:
    binary frames  PCM16 24 kHz mono little-endian microphone audio (any length)
    text frames    JSON ``{"type": "interrupt"}`` (the user pressed "Interrupt")

Service -> browser, JSON text frames, one per event:
    ready            {session_id}                  the realtime session is configured
    audio            {item_id, audio}              base64 PCM16 24 kHz mono, play in order
    transcript_delta {item_id, delta}              the assistant's words as they stream
    transcript_done  {item_id, text}
    user_transcript  {text}                        when input transcription is on
    speech_started   {}                            the user speaks: stop playback now
    interrupted      {}                            the assistant was cut off: stop playback
    tool_call        {call_id, name, arguments}    a server-side tool started
    tool_result      {call_id, name, output, is_error}
    response_done    {status}
    reconnecting / reconnected {reason}            the realtime socket is being replaced
    error            {message}                     the service's own words when it refused
    closed           {reason}                      the realtime session ended; the socket closes

Nothing here is shared between browser sessions except immutable configuration (:class:`Settings`),
so any number of them run side by side in one process, and any worker can take any browser.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from agentkit import (
    Agent,
    AgentkitError,
    Endpoint,
    HandshakeError,
    MissingSettingError,
    ServerError,
    Session,
    SessionClosedError,
    SessionOptions,
)
from agentkit.events import (
    AudioDelta,
    ErrorOccurred,
    Event,
    Interrupted,
    Reconnected,
    Reconnecting,
    ResponseFinished,
    SessionClosed,
    SessionReady,
    SpeechStarted,
    ToolCallFinished,
    ToolCallStarted,
    TranscriptDelta,
    TranscriptDone,
    UserTranscript,
)
from examples.webapp.agent import Caller, offline_scenario
from examples.webapp.agent import agent as default_agent

__all__ = ["Settings", "app", "create_app"]

logger = logging.getLogger("examples.webapp")

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Settings:
    """What every browser session shares: immutable configuration only.

    Attributes:
        agent: instructions and tools (an :class:`Agent` is frozen).
        endpoint: the realtime endpoint; it fetches credentials at each connect.
        options: session limits and policies.
        allowed_origins: extra page origins allowed to open ``/ws`` (the page's own host
            always is); browsers send ``Origin``, so another site cannot spend your quota.
    """

    agent: Agent
    endpoint: Endpoint
    options: SessionOptions
    allowed_origins: frozenset[str]


def create_app(
    endpoint: Endpoint | None = None,
    *,
    agent: Agent = default_agent,
    options: SessionOptions | None = None,
    allowed_origins: Iterable[str] | None = None,
) -> Starlette:
    """Build the app.

    Args:
        endpoint: where sessions connect; ``None`` reads the environment at startup
            (``Endpoint.from_env``) and, when no credentials are set, starts an in-process
            simulator running :data:`~examples.webapp.agent.offline_scenario`.
        agent: the agent every browser session talks to.
        options: session options (``SessionOptions()`` by default).
        allowed_origins: extra allowed ``Origin`` values; ``None`` reads ``ALLOWED_ORIGINS``
            (comma-separated) from the environment.
    """
    if allowed_origins is None:
        allowed_origins = filter(None, os.environ.get("ALLOWED_ORIGINS", "").split(","))
    origins = frozenset(origin.strip().rstrip("/") for origin in allowed_origins)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            resolved = endpoint or await _endpoint_from_env(stack)
            logger.info("realtime endpoint: %r", resolved)
            app.state.settings = Settings(agent, resolved, options or SessionOptions(), origins)
            yield

    return Starlette(
        routes=[
            Route("/", _index),
            Route("/healthz", _healthz),
            Route("/favicon.ico", _favicon),
            WebSocketRoute("/ws", _relay),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


async def _endpoint_from_env(stack: AsyncExitStack) -> Endpoint:
    try:
        return Endpoint.from_env()
    except MissingSettingError as exc:
        from agentkit.testing import Simulator  # only needed offline

        simulator = await stack.enter_async_context(Simulator(offline_scenario))
        logger.warning(
            "no realtime credentials in the environment (%s): using an in-process simulator "
            "at %s; set AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT or OPENAI_API_KEY "
            "for a real service (docs/web.md)",
            exc.setting,
            simulator.url,
        )
        return Endpoint.custom(simulator.ga_url(model="simulated"), credential=simulator.api_key)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="7" fill="#2b6cb0"/>'
    '<rect x="6" y="3" width="4" height="7" rx="2" fill="#fff"/>'
    '<path d="M4.5 8a3.5 3.5 0 0 0 7 0M8 11.5V13" stroke="#fff" fill="none"/></svg>'
)
"""A microphone in a circle, so browsers' automatic ``/favicon.ico`` request is answered."""


async def _favicon(request: Request) -> Response:
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


# -- one browser session ----------------------------------------------------------------------


async def _relay(websocket: WebSocket) -> None:
    """One browser socket: one realtime session, two pumps, everything closed on the way out."""
    settings: Settings = websocket.app.state.settings
    if not _origin_allowed(websocket, settings.allowed_origins):
        logger.warning("refused /ws from origin %s", websocket.headers.get("origin"))
        await websocket.close(code=1008)  # before accept: the handshake gets a 403
        return
    await websocket.accept()
    client = websocket.client
    caller = Caller(uuid.uuid4().hex[:8], f"{client.host}:{client.port}" if client else "?")
    session = Session(settings.agent, settings.endpoint, deps=caller, options=settings.options)
    try:
        await session.start()
    except (AgentkitError, OSError, asyncio.TimeoutError) as exc:  # refused, unreachable, slow
        logger.error("[%s] could not open the realtime session: %r", caller.connection_id, exc)
        await _send(websocket, {"type": "error", "message": _why_it_failed(exc)})
        await websocket.close(code=1011, reason="realtime session failed")
        return
    logger.info("[%s] session %s for %s", caller.connection_id, session.session_id, caller.client)
    try:
        await _first_to_finish(
            _browser_to_session(websocket, session),
            _session_to_browser(websocket, session),
        )
    finally:
        await session.close()
        logger.info("[%s] session %s closed", caller.connection_id, session.session_id)


def _why_it_failed(exc: BaseException) -> str:
    """What the page may show: the service's own words when it refused (a wrong key, an
    unknown deployment, a rejected configuration); never the endpoint's address."""
    if isinstance(exc, HandshakeError):
        said = exc.server_message or HTTPStatus(exc.status).phrase
        return f"The voice service refused the session (HTTP {exc.status}): {said}"
    if isinstance(exc, ServerError):
        return f"The voice service rejected the session's configuration: {exc}"
    if isinstance(exc, asyncio.TimeoutError):
        return "The voice service did not answer in time."
    return "The voice service is unavailable."


async def _browser_to_session(websocket: WebSocket, session: Session) -> None:
    """Microphone audio and commands in; returns when the browser goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            if message.get("bytes") is not None:
                await session.send_audio(message["bytes"])
            elif message.get("text") is not None:
                command = json.loads(message["text"])
                if command.get("type") == "interrupt":
                    await session.interrupt()
        except SessionClosedError:
            pass  # the realtime side ended: the other pump tells the page and closes the socket
        except (ValueError, AttributeError):
            logger.warning("ignored a malformed message from the browser")


async def _session_to_browser(websocket: WebSocket, session: Session) -> None:
    """Session events out, as JSON; when the realtime side ends, close the browser socket."""
    try:
        async for event in session:
            message = _for_browser(event)
            if message is not None:
                await _send(websocket, message)
            if isinstance(event, SessionClosed):
                await websocket.close(code=1000, reason="the realtime session ended")
                return
    except (WebSocketDisconnect, OSError, RuntimeError):
        return  # the browser went away mid-send; the other pump has seen it too


_FOR_BROWSER: dict[type[Any], Callable[[Any], dict[str, Any]]] = {
    SessionReady: lambda e: {"type": "ready", "session_id": e.session_id},
    AudioDelta: lambda e: {"type": "audio", "item_id": e.item_id, "audio": e.data},
    TranscriptDelta: lambda e: {"type": "transcript_delta", "item_id": e.item_id, "delta": e.delta},
    TranscriptDone: lambda e: {"type": "transcript_done", "item_id": e.item_id, "text": e.text},
    UserTranscript: lambda e: {"type": "user_transcript", "item_id": e.item_id, "text": e.text},
    SpeechStarted: lambda e: {"type": "speech_started"},
    Interrupted: lambda e: {"type": "interrupted", "item_id": e.item_id},
    ToolCallStarted: lambda e: {
        "type": "tool_call",
        "call_id": e.call_id,
        "name": e.name,
        "arguments": e.arguments,
    },
    ToolCallFinished: lambda e: {
        "type": "tool_result",
        "call_id": e.call_id,
        "name": e.name,
        "output": e.output,
        "is_error": e.is_error,
    },
    ResponseFinished: lambda e: {"type": "response_done", "status": e.status},
    Reconnecting: lambda e: {"type": "reconnecting", "reason": e.reason},
    Reconnected: lambda e: {"type": "reconnected", "reason": e.reason},
    ErrorOccurred: lambda e: {"type": "error", "message": e.message},
    SessionClosed: lambda e: {"type": "closed", "reason": e.reason},
}
"""Session events as the page sees them (the module docstring lists them); others stay here."""


def _for_browser(event: Event) -> dict[str, Any] | None:
    translate = _FOR_BROWSER.get(type(event))
    return translate(event) if translate is not None else None


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(json.dumps(message))


async def _first_to_finish(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines as tasks until one returns; cancel and await the rest.

    Python 3.10 has no TaskGroup; this owns its tasks, so none outlives the browser session.
    """
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            logger.error("relay task failed", exc_info=task.exception())


def _origin_allowed(websocket: WebSocket, allowed: frozenset[str]) -> bool:
    """Browsers always send ``Origin`` on WebSockets (no CORS applies): check it ourselves."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: a test client, a server-side caller
    if origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


app = create_app()
"""The app as ``uvicorn examples.webapp.app:app`` finds it; configured at startup from the
environment (see :func:`create_app`)."""
