"""The simulator's I/O layer: a WebSocket server on 127.0.0.1 that only moves data.

Every decision is made elsewhere: the handshake in :mod:`~agentkit.testing.handshake`, the
protocol in :class:`~agentkit.testing.state.ConnectionState` (or a cassette player), faults in
:mod:`~agentkit.testing.faults`. Each connection runs a reader (client events in) and a pump
(response events out); both send under one lock, computing and sending in a single step, so events
leave in the order the state produced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlencode

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agentkit._redact import RedactingFilter
from agentkit.testing import handshake
from agentkit.testing.calls import SimulatedCalls
from agentkit.testing.cassette import Cassette
from agentkit.testing.faults import Faults
from agentkit.testing.records import ConnectionRecord, EventLog
from agentkit.testing.scenario import Scenario, Turn
from agentkit.testing.state import SERVER_ERROR_MESSAGE, ConnectionState

__all__ = ["Simulator"]

log = logging.getLogger("agentkit.testing")
Event = dict[str, Any]


class _Protocol(Protocol):
    def open(self) -> list[Event]: ...
    def receive_text(self, frame: str | bytes) -> list[Event]: ...
    def next_event(self) -> Event | None: ...


class _Dropped(Exception):
    """A fault ended the socket; the connection handler stops quietly."""


# websockets logs handshake headers at DEBUG; keys must not reach the logs, even test keys.
_wire_logger = logging.getLogger("agentkit.testing.wire")
_wire_logger.addFilter(RedactingFilter())


class Simulator:
    """A local Realtime API service for tests, examples and offline development.

    Args:
        scenario: the scripted model (default: an empty scenario that answers everything
            with a deterministic "no scripted answer" text).
        cassette: replay this cassette on every connection instead of running a scenario.
        api_key: the accepted key; ``None`` turns credential checks off.
        api_keys: more accepted keys.
        accept_token: approves other ``Authorization: Bearer`` tokens (Entra-style tests).
        host / port: where to listen; port 0 picks a free one.
        max_session_seconds: end each session after this long, like the service's maximum
            duration (close 1001 "Your session hit the maximum duration of N minutes.").
        session_expired_error: also send the older ``error`` ``session_expired`` before closing.
        stream_delay: seconds between streamed response events (0 still lets client events in).
        deployments: Azure deployment names and the model each runs, e.g.
            ``{"prod-voice": "gpt-4o-realtime-preview"}``. The model decides what a session
            takes (images, reasoning): on the OpenAI route ``/v1/realtime?model=M`` it is
            ``M``; on the Azure routes it is the listed model, and a deployment not listed
            takes every option.
    """

    def __init__(
        self,
        scenario: Scenario | Turn | None = None,
        *,
        cassette: Cassette | None = None,
        api_key: str | None = "test-key",
        api_keys: Collection[str] = (),
        accept_token: Callable[[str], bool] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_session_seconds: float | None = None,
        session_expired_error: bool = False,
        stream_delay: float = 0.0,
        deployments: Mapping[str, str] | None = None,
    ) -> None:
        self.scenario = scenario.scenario if scenario is not None else Scenario()
        self.cassette = cassette
        self.api_key = api_key
        self.api_keys = {*api_keys, *([api_key] if api_key else [])}
        self.accept_token = accept_token
        self.host = host
        self.port = port
        self.max_session_seconds = max_session_seconds
        self.session_expired_error = session_expired_error
        self.stream_delay = stream_delay
        self.deployments = dict(deployments or {})
        self.faults = Faults()
        self.log = EventLog()
        self.connections: list[ConnectionRecord] = []
        self._server: Server | None = None
        self._live: dict[ServerConnection, ConnectionRecord] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._new_connection = EventLog()
        self.calls = SimulatedCalls(self)
        """Call routes: client secrets, WebRTC offers, SIP control, webhooks, sidebands."""

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> Simulator:
        """Listen (on a random free port unless one was given)."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            max_size=None,
            compression=None,
            logger=_wire_logger,
        )
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        await self.calls.start()
        return self

    async def stop(self) -> None:
        """Close every connection (1001 going away) and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_server()
        await self.calls.stop()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def go_offline(self) -> None:
        """Stop listening and drop live sockets: connections are refused until :meth:`go_online`."""
        for connection in list(self._live):
            connection.transport.abort()
        await self._close_server()

    async def go_online(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            await self.start()

    async def unreachable_for(self, seconds: float) -> None:
        """Go offline now and come back after ``seconds`` (in the background)."""
        await self.go_offline()
        self._own(self._come_back_after(seconds))

    async def inject(self, frame: str | bytes | Mapping[str, Any]) -> None:
        """Send a raw frame on every live socket, outside the protocol (hostile-input tests).

        A mapping is sent as JSON text; ``str`` and ``bytes`` go out as they are (a text or
        binary frame), so malformed JSON, binary frames and nonsense events can be tried.
        """
        data = json.dumps(frame) if isinstance(frame, Mapping) else frame
        await asyncio.gather(*(connection.send(data) for connection in list(self._live)))

    async def press_keys(self, keys: str) -> None:
        """A caller presses telephone keys on a SIP call: one
        ``input_audio_buffer.dtmf_event_received`` per key, on every live socket."""
        for key in keys:
            event = {
                "type": "input_audio_buffer.dtmf_event_received",
                "event": key,
                "received_at": int(time.time()),
            }
            for connection, record in list(self._live.items()):
                await connection.send(json.dumps(event))
                record.sent.append(event)  # part of the exchange, unlike an injected frame
                record.exchange.append(("server", event))

    async def close_connections(self, code: int = 1011, reason: str = "") -> None:
        """Close every live socket with ``code`` and ``reason``."""
        await asyncio.gather(*(c.close(code, reason) for c in list(self._live)))

    async def _close_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()

    async def _come_back_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.go_online()

    def _own(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- addresses ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, ``ws://127.0.0.1:PORT``."""
        return f"ws://{self.host}:{self.port}"

    def ga_url(self, model: str = "gpt-realtime") -> str:
        """Azure GA endpoint: ``/openai/v1/realtime?model=...``."""
        return f"{self.url}/openai/v1/realtime?{urlencode({'model': model})}"

    def preview_url(
        self, deployment: str = "gpt-realtime", api_version: str = "2025-04-01-preview"
    ) -> str:
        """Azure preview endpoint: ``/openai/realtime?api-version=...&deployment=...``."""
        query = urlencode({"api-version": api_version, "deployment": deployment})
        return f"{self.url}/openai/realtime?{query}"

    def openai_url(self, model: str = "gpt-realtime") -> str:
        """OpenAI endpoint ``/v1/realtime?model=...`` (preview if ``OpenAI-Beta: realtime=v1``)."""
        return f"{self.url}/v1/realtime?{urlencode({'model': model})}"

    # -- what happened ------------------------------------------------------------------

    @property
    def received(self) -> list[Event]:
        """Every client event received, all connections, in arrival order."""
        return self.log.events

    async def wait_for(
        self,
        event_type: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Event:
        """Wait for the ``count``-th client event of ``event_type`` on any connection."""
        return await self.log.wait_for(event_type, count, timeout, where)

    async def wait_for_connection(self, count: int = 1, timeout: float = 5.0) -> ConnectionRecord:
        """Wait until ``count`` connections have been accepted; return the ``count``-th."""
        await self._new_connection.wait_for("connection", count, timeout)
        return self.connections[count - 1]

    # -- handshake ----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        refusal = self.faults.take_refusal()
        if refusal is not None:
            response = connection.respond(HTTPStatus(refusal.status), refusal.body or "refused\n")
            for name, value in refusal.headers.items():
                response.headers[name] = value
            return response
        decided = self._route(request)
        if isinstance(decided, handshake.Refusal) and decided.status != 401:
            return connection.respond(HTTPStatus(decided.status), decided.body + "\n")
        checks_keys = self.api_key is not None or bool(self.api_keys)
        if checks_keys and not handshake.authorized(
            request.path, request.headers, self.api_keys, self.accept_token
        ):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or missing credentials\n")
        if isinstance(decided, handshake.Refusal):
            return connection.respond(HTTPStatus(decided.status), decided.body + "\n")
        return None

    def _route(self, request: Request) -> handshake.Route | handshake.Refusal:
        sideband = self.calls.route(request.path)
        return sideband or handshake.route(request.path, request.headers)

    # -- one connection -----------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None
        decided = self._route(request)
        assert isinstance(decided, handshake.Route)
        record = ConnectionRecord(
            index=len(self.connections),
            path=request.path,
            dialect=decided.dialect,
            model=decided.model,
            headers={name.lower(): value for name, value in request.headers.raw_items()},
        )
        self.connections.append(record)
        self._live[connection] = record
        self._new_connection.append({"type": "connection"})
        protocol = self._protocol(record)
        link = _Link(self, connection, record)
        call_id = self.calls.call_of(record)
        if call_id is not None:
            self.calls.attached(call_id, link)
        try:
            await link.run(protocol)
        finally:
            if call_id is not None:
                self.calls.detached(call_id, link)
            self._live.pop(connection, None)
            record.mark_closed(_close_code(connection), _close_reason(connection))

    def _protocol(self, record: ConnectionRecord) -> _Protocol:
        if self.cassette is not None:
            return self.cassette.player()
        call_state = self.calls.protocol_for(record)
        if call_state is not None:
            return call_state
        lifetime = self.max_session_seconds if self.max_session_seconds is not None else 3600
        azure = record.path.startswith("/openai/")
        state = ConnectionState(
            record.dialect,
            record.model,
            self.scenario,
            expires_at=int(time.time() + lifetime),
            tag=f"c{record.index}",
            family=self.deployments.get(record.model, "") if azure else None,
        )
        self.calls.configure(state, record)
        return state


class _Link:
    """Moves events between one socket and its protocol object, applying faults."""

    def __init__(
        self, simulator: Simulator, connection: ServerConnection, record: ConnectionRecord
    ):
        self.sim = simulator
        self.connection = connection
        self.record = record
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()

    async def run(self, protocol: _Protocol) -> None:
        tasks = [asyncio.get_running_loop().create_task(self._pump(protocol))]
        if self.sim.max_session_seconds is not None:
            tasks.append(asyncio.get_running_loop().create_task(self._expire(protocol)))
        try:
            await self._step(protocol.open)
            async for frame in self.connection:
                self._record_client(frame)
                await self._step(lambda frame=frame: protocol.receive_text(frame))  # type: ignore[misc]
                self.wake.set()
        except (ConnectionClosed, _Dropped):
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def push(self, produce: Callable[[], list[Event]]) -> None:
        """Send what ``produce`` makes now (the service's own initiative), then stream on."""
        await self._step(produce)
        self.wake.set()

    def _record_client(self, frame: str | bytes) -> None:
        try:
            event = json.loads(frame)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.record.invalid_frames.append(frame)
            return
        self.record.received.append(event)
        self.record.exchange.append(("client", event))
        self.sim.log.append(event)

    async def _step(self, produce: Callable[[], list[Event]]) -> None:
        async with self.lock:
            try:
                events = produce()
            except Exception:  # a bug here must cost the client an error event, not a 1011
                log.exception("the simulator failed to answer a client event")
                events = [_server_error()]
            for event in events:
                await self._send(event)

    async def _pump(self, protocol: _Protocol) -> None:
        with contextlib.suppress(ConnectionClosed, _Dropped):
            while True:
                await self.wake.wait()
                self.wake.clear()
                await self._drain(protocol)

    async def _drain(self, protocol: _Protocol) -> None:
        # Pause between streamed events so client events (cancel, barge-in) can land mid-response.
        # When nothing is left to send, a protocol may have network work (a hosted MCP server
        # to list or call): await it, outside the lock, then stream what it produced.
        take_job = getattr(protocol, "take_job", None)
        while True:
            sent = await self._pump_one(protocol)
            while sent:
                await asyncio.sleep(self.sim.stream_delay)
                sent = await self._pump_one(protocol)
            job = take_job() if take_job is not None else None
            if job is None:
                return
            await job

    async def _pump_one(self, protocol: _Protocol) -> bool:
        async with self.lock:
            try:
                event = protocol.next_event()
            except Exception:  # stop this drain: the next client event wakes the pump again
                log.exception("the simulator failed to stream a response")
                await self._send(_server_error())
                return False
            if event is not None:
                await self._send(event)
            return event is not None

    async def _send(self, event: Event) -> None:
        delay = self.sim.faults.delay_for(event)
        if delay:
            await asyncio.sleep(delay)
        await self.connection.send(json.dumps(event))
        self.record.sent.append(event)
        self.record.exchange.append(("server", event))
        drop = self.sim.faults.take_drop(self.record.sent.types())
        if drop is not None:
            if drop.code is None:
                self.connection.transport.abort()
            else:
                await self.connection.close(drop.code, drop.reason)
            raise _Dropped

    async def _expire(self, protocol: _Protocol) -> None:
        seconds = self.sim.max_session_seconds or 0.0
        await asyncio.sleep(seconds)
        minutes = max(1, round(seconds / 60))
        async with self.lock:
            if self.sim.session_expired_error and isinstance(protocol, ConnectionState):
                for event in protocol.expire(minutes):
                    await self._send(event)
            await self.connection.close(
                1001, f"Your session hit the maximum duration of {minutes} minutes."
            )


def _server_error() -> Event:
    error = {"type": "server_error", "code": None, "message": SERVER_ERROR_MESSAGE, "param": None}
    return {"type": "error", "event_id": f"event_{uuid.uuid4().hex[:20]}", "error": error}


def _close_code(connection: ServerConnection) -> int | None:
    frame = connection.protocol.close_rcvd or connection.protocol.close_sent
    return frame.code if frame is not None else None


def _close_reason(connection: ServerConnection) -> str:
    frame = connection.protocol.close_rcvd or connection.protocol.close_sent
    return frame.reason if frame is not None else ""
