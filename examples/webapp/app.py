"""The ASGI app: one page with two audio paths, chosen by a switch on the page.

* **Relay** (``/ws``): the browser streams its microphone here; one realtime
  :class:`~agentkit.Session` per browser socket carries the audio and runs the tools.
* **WebRTC** (``POST /call``): the browser's peer connection talks to the realtime service
  directly. This server relays the browser's SDP offer with its own key
  (:meth:`~agentkit.calls.CallControl.create_call`, so not even a client secret reaches the
  page), attaches a :class:`~agentkit.calls.SidebandSession` to the call before answering, and
  runs the tools there. ``POST /call/{call_id}/hangup`` ends a call.

Relay, browser -> service, on ``/ws``:
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

Nothing here is shared between browser sessions except immutable configuration (:class:`Settings`)
and the worker's set of running call tasks (closed on shutdown), so any number of them run side
by side in one process, and any worker can take any browser, or hang up any call.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from agentkit import (
    Agent,
    AgentkitError,
    CallControl,
    CallRequestError,
    ConfigurationError,
    Endpoint,
    HandshakeError,
    MissingSettingError,
    ServerError,
    Session,
    SessionClosedError,
    SessionOptions,
    SidebandSession,
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
        allowed_origins: extra page origins allowed to open ``/ws`` and ``/call`` (the page's
            own host always is); browsers send ``Origin``, so another site cannot spend your
            quota.
        api_base_url: the realtime REST base for WebRTC calls when it is not the endpoint's
            (the in-process simulator's port); ``None`` derives it from the endpoint.
    """

    agent: Agent
    endpoint: Endpoint
    options: SessionOptions
    allowed_origins: frozenset[str]
    api_base_url: str | None = None


def create_app(
    endpoint: Endpoint | None = None,
    *,
    agent: Agent = default_agent,
    options: SessionOptions | None = None,
    allowed_origins: Iterable[str] | None = None,
    api_base_url: str | None = None,
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
        api_base_url: the REST base for WebRTC calls when it is not the endpoint's, e.g. a
            simulator's ``sim.calls.api_base``.
    """
    if allowed_origins is None:
        allowed_origins = filter(None, os.environ.get("ALLOWED_ORIGINS", "").split(","))
    origins = frozenset(origin.strip().rstrip("/") for origin in allowed_origins)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            resolved, rest = (endpoint, api_base_url) if endpoint else await _from_env(stack)
            logger.info("realtime endpoint: %r", resolved)
            app.state.settings = Settings(
                agent, resolved, options or SessionOptions(), origins, rest
            )
            app.state.sidebands = set()  # this worker's running calls, stopped on shutdown
            try:
                yield
            finally:
                await _stop_all(app.state.sidebands)

    return Starlette(
        routes=[
            Route("/", _index),
            Route("/healthz", _healthz),
            Route("/favicon.ico", _favicon),
            WebSocketRoute("/ws", _relay),
            Route("/call", _create_call, methods=["POST"]),
            Route("/call/{call_id}/hangup", _hang_up, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


async def _from_env(stack: AsyncExitStack) -> tuple[Endpoint, str | None]:
    """The endpoint and REST base from the environment, or an in-process simulator's."""
    try:
        return Endpoint.from_env(), None
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
        endpoint = Endpoint.custom(
            simulator.ga_url(model="simulated"), credential=simulator.api_key
        )
        return endpoint, simulator.calls.api_base


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
    if isinstance(exc, CallRequestError):
        said = exc.server_message or HTTPStatus(exc.status).phrase
        return f"The voice service refused the call (HTTP {exc.status}): {said}"
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


def _origin_allowed(connection: WebSocket | Request, allowed: frozenset[str]) -> bool:
    """Browsers always send ``Origin`` on WebSockets and on POSTs, and no CORS protects a
    WebSocket or a simple POST: check it ourselves."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True  # not a browser: a test client, a server-side caller
    if origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == connection.headers.get("host")


# -- one WebRTC call --------------------------------------------------------------------------

MAX_OFFER = 64 * 1024
"""A browser's SDP offer is a few kilobytes."""


async def _create_call(request: Request) -> Response:
    """Relay the page's SDP offer to the service, attach the sideband, answer with the SDP.

    The sideband is attached before the page gets its answer, so it hears the call from the
    first word: a tool the model calls at once still runs here.
    """
    settings: Settings = request.app.state.settings
    if not _origin_allowed(request, settings.allowed_origins):
        logger.warning("refused /call from origin %s", request.headers.get("origin"))
        return PlainTextResponse("origin not allowed", status_code=403)
    offer = (await request.body()).decode("utf-8", "replace")
    if len(offer) > MAX_OFFER or not offer.startswith("v=0"):
        return PlainTextResponse("the body must be an SDP offer", status_code=400)
    client = request.client
    caller = Caller(uuid.uuid4().hex[:8], f"{client.host}:{client.port}" if client else "?")
    try:
        control = CallControl(settings.endpoint, api_base_url=settings.api_base_url)
        answer = await control.create_call(offer, settings.agent)
    except ConfigurationError as exc:  # a preview endpoint: no WebRTC calls there
        logger.error("[%s] WebRTC is not available: %s", caller.connection_id, exc)
        return PlainTextResponse("WebRTC calls need the GA realtime API.", status_code=501)
    except (AgentkitError, OSError) as exc:
        logger.error("[%s] the service refused the call: %r", caller.connection_id, exc)
        return PlainTextResponse(_why_it_failed(exc), status_code=502)
    session = SidebandSession(
        answer.call_id,
        settings.agent,
        settings.endpoint,
        deps=caller,
        options=settings.options,
    )
    try:
        await session.start()
    except (AgentkitError, OSError, asyncio.TimeoutError) as exc:
        logger.error(
            "[%s] could not attach to call %s: %r", caller.connection_id, answer.call_id, exc
        )
        await session.close()
        with contextlib.suppress(AgentkitError, OSError):
            await control.hangup(answer.call_id)
        return PlainTextResponse(_why_it_failed(exc), status_code=502)
    logger.info("[%s] call %s for %s", caller.connection_id, answer.call_id, caller.client)
    task = asyncio.get_running_loop().create_task(_run_sideband(session, caller))
    sidebands: set[asyncio.Task[None]] = request.app.state.sidebands
    sidebands.add(task)
    task.add_done_callback(sidebands.discard)
    return JSONResponse({"call_id": answer.call_id, "sdp": answer.sdp}, status_code=201)


async def _run_sideband(session: SidebandSession, caller: Caller) -> None:
    """The call's tools run here until the call ends (a hang-up, the page leaving)."""
    try:
        async for event in session:
            if isinstance(event, SessionClosed):
                logger.info(
                    "[%s] call %s ended: %s", caller.connection_id, session.call_id, event.reason
                )
                return
    finally:
        await session.close()


async def _hang_up(request: Request) -> Response:
    """End a call (the page's Stop button); the service then closes the call's sideband."""
    settings: Settings = request.app.state.settings
    if not _origin_allowed(request, settings.allowed_origins):
        return PlainTextResponse("origin not allowed", status_code=403)
    control = CallControl(settings.endpoint, api_base_url=settings.api_base_url)
    try:
        await control.hangup(request.path_params["call_id"])
    except CallRequestError as exc:
        return PlainTextResponse("no such call", status_code=404 if exc.status == 404 else 502)
    except (AgentkitError, OSError):
        return PlainTextResponse("The voice service is unavailable.", status_code=502)
    return Response(status_code=204)


async def _stop_all(tasks: set[asyncio.Task[None]]) -> None:
    """On shutdown: each running call's sideband closes (its tools are cancelled and answered)."""
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


app = create_app()
"""The app as ``uvicorn examples.webapp.app:app`` finds it; configured at startup from the
environment (see :func:`create_app`)."""
