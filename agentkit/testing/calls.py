"""The simulator plays the service's call routes: client secrets, WebRTC offers, SIP control
(accept, reject, refer, hang up), signed ``realtime.call.incoming`` webhooks, and each call's
sideband socket (``/v1/realtime?call_id=...``) carrying the events the media socket would.

Every server event of a call goes to each of its readers: every sideband socket and, on a
WebRTC call with media, the ``oai-events`` data channel.

* A WebRTC offer with ICE credentials and a DTLS fingerprint (a browser's) is answered by a
  real peer connection (:mod:`agentkit.testing.webrtc`, needs ``aiortc``): the simulator hears
  the caller's audio track with its VAD and speaks the answers on its own track. Without
  ``aiortc`` such an offer is refused (HTTP 501) saying so.
* A stub offer (no fingerprint: a test of the control plane only) gets a stub answer and no
  media; so do SIP calls. Then :meth:`SimulatedCalls.caller_says` makes the caller speak: the
  sideband gets what the service sends after hearing the line (speech boundaries, the committed
  item with its transcript) and the response server VAD starts.

The REST routes listen on their own 127.0.0.1 port (:attr:`SimulatedCalls.api_base`).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import email.parser
import email.policy
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from agentkit.testing import handshake, webrtc
from agentkit.testing._http import HttpRequest, HttpResponse, HttpServer
from agentkit.testing.dialect import GA
from agentkit.testing.records import ConnectionRecord
from agentkit.testing.state import ConnectionState, _transcription_events

if TYPE_CHECKING:
    from agentkit.testing.server import Simulator, _Link

__all__ = ["SimulatedCall", "SimulatedCalls", "WebhookDelivery", "sign_webhook"]

Event = dict[str, Any]
CallStatus = Literal["ringing", "active", "rejected", "ended"]
_SIDEBAND_PATHS = ("/v1/realtime", "/openai/v1/realtime")
_CONTROL = ("accept", "reject", "refer", "hangup")


@dataclass
class SimulatedCall:
    """One call the simulated service holds.

    Attributes:
        call_id: its id.
        kind: ``"sip"`` (from a webhook) or ``"webrtc"`` (from an offer).
        status: ``ringing`` until accepted, then ``active``; ``rejected`` or ``ended``.
        sip_headers: the INVITE's headers sent with the webhook.
        session: the configuration it was accepted or created with.
        rejected_with: the SIP status of a rejection.
        referred_to: every transfer target, in order.
        state: the conversation, kept across sideband sockets.
    """

    call_id: str
    kind: Literal["sip", "webrtc"]
    status: CallStatus = "ringing"
    sip_headers: list[dict[str, str]] = field(default_factory=list)
    session: dict[str, Any] = field(default_factory=dict)
    rejected_with: int | None = None
    referred_to: list[str] = field(default_factory=list)
    state: ConnectionState | None = None
    links: list[_Link] = field(default_factory=list, repr=False)
    media: CallMedia | None = field(default=None, repr=False)
    readers: list[CallReader] = field(default_factory=list, repr=False)

    def publish(self, events: Sequence[Event]) -> None:
        """Hand server events to every reader of the call; output audio goes to the media
        when the call has some (the service sends no audio deltas on a WebRTC call)."""
        published = False
        for event in events:
            if self.media is not None and self.media.takes(event):
                continue
            published = True
            for reader in self.readers:
                reader.pending.append(event)
        if published:
            for reader in self.readers:
                reader.wake()

    def next_for(self, reader: CallReader) -> Event | None:
        """The next event for ``reader``: one already published, or the next streamed one of
        a running response (published to every reader)."""
        while not reader.pending:
            if self.state is None:
                return None
            event = self.state.next_event()
            if event is None:
                return None
            self.publish([event])
        return reader.pending.popleft()

    def answer_client(self, frame: str | bytes) -> list[Event]:
        """Answer a client event from any of the call's channels."""
        assert self.state is not None
        if self.media is not None:
            answered = self.media.answer_client(frame)
            if answered is not None:
                return answered
        return self.state.receive_text(frame)


class CallMedia(Protocol):
    """What carries a call's audio (:class:`~agentkit.testing.webrtc.WebRtcMedia`)."""

    def takes(self, event: Event) -> bool:
        """Whether ``event`` is audio for the media (then readers do not get it)."""
        ...

    def answer_client(self, frame: str | bytes) -> list[Event] | None:
        """Answer a client event that only the media owner can (``output_audio_buffer.clear``),
        or ``None`` for the conversation to answer."""
        ...

    async def close(self) -> None: ...


class CallReader:
    """One reader of a call's server events: a sideband socket or the data channel.

    ``wake`` is called whenever events are published, so the reader's sender drains them.
    """

    def __init__(self, wake: Callable[[], None] = lambda: None) -> None:
        self.pending: deque[Event] = deque()
        self.wake = wake


class _SidebandProtocol:
    """What a sideband socket's link drives: the call's conversation, shared with every other
    reader of the call."""

    def __init__(self, call: SimulatedCall) -> None:
        self.call = call
        self.reader = CallReader()

    def open(self) -> list[Event]:
        assert self.call.state is not None
        return self.call.state.open()

    def receive_text(self, frame: str | bytes) -> list[Event]:
        self.call.publish(self.call.answer_client(frame))
        events = list(self.reader.pending)
        self.reader.pending.clear()
        return events

    def next_event(self) -> Event | None:
        return self.call.next_for(self.reader)


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook the simulator posted: what it sent and the receiver's HTTP status."""

    call_id: str
    webhook_id: str
    body: bytes
    headers: Mapping[str, str]
    status: int


@dataclass(frozen=True)
class _Exchange:
    method: str
    path: str
    status: int
    body: bytes


class SimulatedCalls:
    """The call routes of one :class:`~agentkit.testing.Simulator` (``sim.calls``).

    Attributes:
        webhook_secret: the ``whsec_`` secret webhooks are signed with.
        calls: every call by id.
        secrets: every minted client secret and the session it carries.
        exchanges: every REST request answered (method, path, status, body sent back).
    """

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator
        self.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.calls: dict[str, SimulatedCall] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.exchanges: list[_Exchange] = []
        self.clock: Callable[[], float] = time.time
        """The time secrets expire by (a test may move it on)."""
        self._http = HttpServer(self._answer, simulator.host)
        self._count = 0
        self._expiry: dict[str, int] = {}
        self._timers: list[asyncio.TimerHandle] = []
        self._sidebands: dict[int, _SidebandProtocol] = {}

    @property
    def api_base(self) -> str:
        """The REST base, ``http://127.0.0.1:PORT/v1/realtime`` (Azure's ``/openai/v1/...``
        routes answer too)."""
        return f"{self._http.url}/v1/realtime"

    async def start(self) -> None:
        await self._http.start()

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        await asyncio.gather(*(self._end_media(call) for call in list(self.calls.values())))
        await self._http.stop()

    # -- the test's side ------------------------------------------------------------------

    def sign(
        self, body: bytes, webhook_id: str, timestamp: float, secret: str | None = None
    ) -> dict[str, str]:
        """Standard Webhooks headers for ``body``, signed with :attr:`webhook_secret` or
        ``secret``."""
        return sign_webhook(body, webhook_id, timestamp, secret or self.webhook_secret)

    async def incoming_call(
        self,
        url: str,
        *,
        sip_headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        secret: str | None = None,
        timestamp: float | None = None,
    ) -> WebhookDelivery:
        """A phone rings: post a signed ``realtime.call.incoming`` for a new call to ``url``.

        ``secret`` signs with another secret (a forgery); ``timestamp`` dates the delivery.
        """
        call = self._new_call("sip")
        pairs = sip_headers.items() if isinstance(sip_headers, Mapping) else sip_headers
        call.sip_headers = [{"name": name, "value": value} for name, value in pairs]
        event = {
            "object": "event",
            "id": f"evt_{secrets.token_hex(12)}",
            "type": "realtime.call.incoming",
            "created_at": int(time.time()),
            "data": {"call_id": call.call_id, "sip_headers": call.sip_headers},
        }
        body = json.dumps(event).encode()
        webhook_id = f"wh_{secrets.token_hex(12)}"
        headers = self.sign(
            body, webhook_id, time.time() if timestamp is None else timestamp, secret
        )
        status = await self.deliver(url, body, headers)
        return WebhookDelivery(call.call_id, webhook_id, body, headers, status)

    async def deliver(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST a webhook as it is (a replay re-sends one); return the receiver's status."""
        request = urllib.request.Request(url, data=body, method="POST")
        for name, value in {"Content-Type": "application/json", **headers}.items():
            request.add_header(name, value)
        return await asyncio.to_thread(_status_of, request)

    async def caller_says(self, call_id: str, text: str, *, audio_ms: int = 1200) -> None:
        """The caller speaks ``text``: the sideband gets the speech boundaries, the committed
        user item with its transcript, and the response server VAD starts."""
        call = self.calls[call_id]
        if not call.links or call.state is None:
            raise RuntimeError(f"no sideband is attached to call {call_id!r}")
        call.publish(_caller_turn(call.state, text, audio_ms))

    # -- the server's side ----------------------------------------------------------------

    def route(self, target: str) -> handshake.Route | handshake.Refusal | None:
        """The handshake decision for a sideband target; ``None`` if it names no call."""
        parts = urlsplit(target)
        call_id = parse_qs(parts.query).get("call_id", [""])[-1]
        if not call_id or parts.path.rstrip("/") not in _SIDEBAND_PATHS:
            return None
        call = self.calls.get(call_id)
        if call is None or call.status in ("rejected", "ended"):
            return handshake.Refusal(404, f"call {call_id!r} not found")
        if call.status != "active":
            return handshake.Refusal(400, f"call {call_id!r} has not been accepted")
        return handshake.Route(GA, str(call.session.get("model") or "gpt-realtime"))

    def call_of(self, record: ConnectionRecord) -> str | None:
        """The call a socket is the sideband of, or ``None``."""
        call_id = parse_qs(urlsplit(record.path).query).get("call_id", [""])[-1]
        return call_id if call_id in self.calls else None

    def protocol_for(self, record: ConnectionRecord) -> _SidebandProtocol | None:
        """The call's own conversation for a sideband socket (``None`` for other sockets)."""
        call_id = self.call_of(record)
        if call_id is None:
            return None
        protocol = self._sidebands[record.index] = _SidebandProtocol(self.calls[call_id])
        return protocol

    def configure(self, state: ConnectionState, record: ConnectionRecord) -> None:
        """A socket opened with a minted secret starts with the secret's configuration."""
        scheme, _, token = record.headers.get("authorization", "").partition(" ")
        session = self.secrets.get(token.strip()) if scheme.lower() == "bearer" else None
        if session is not None:
            _configure(state, session)

    def attached(self, call_id: str, link: _Link) -> None:
        call = self.calls[call_id]
        call.links.append(link)
        protocol = self._sidebands.get(link.record.index)
        if protocol is not None:
            protocol.reader.wake = link.wake.set
            call.readers.append(protocol.reader)

    def detached(self, call_id: str, link: _Link) -> None:
        call = self.calls.get(call_id)
        protocol = self._sidebands.pop(link.record.index, None)
        if call is None:
            return
        if link in call.links:
            call.links.remove(link)
        if protocol is not None and protocol.reader in call.readers:
            call.readers.remove(protocol.reader)

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        response = await self._route_http(request)
        path = urlsplit(request.path).path.removeprefix("/openai").rstrip("/")
        if path == "/v1/realtime/calls":  # a page may post its offer with a client secret
            response = _cors(response, request)
        self.exchanges.append(
            _Exchange(request.method, request.path, response.status, response.body)
        )
        return response

    async def _route_http(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.path).path.removeprefix("/openai").rstrip("/")
        if request.method not in ("POST", "OPTIONS") or not path.startswith("/v1/realtime/"):
            return _error(404, f"no route for {request.method} {path}")
        route = path.removeprefix("/v1/realtime/").split("/")
        if request.method == "OPTIONS":
            return HttpResponse(204) if route == ["calls"] else _error(404, "no such route")
        self._forget_expired()
        key = self._credential(request)
        if key is None:
            return _error(401, "invalid or missing credentials")
        if key in self._expiry and self._expiry[key] <= self.clock():
            return _error(401, "the client secret has expired", code="invalid_api_key")
        if route == ["calls"]:
            return await self._create_call(request)
        if key in self.secrets:  # an ephemeral key may only open calls
            return _error(403, "a client secret cannot use this route")
        if route == ["client_secrets"]:
            return self._mint(request)
        if len(route) == 3 and route[0] == "calls" and route[2] in _CONTROL:
            return await self._control(unquote(route[1]), route[2], request)
        return _error(404, f"no route for POST {path}")

    def _credential(self, request: HttpRequest) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else ""
        for candidate in (bearer, request.headers.get("api-key", "")):
            if candidate and (candidate in self.sim.api_keys or candidate in self.secrets):
                return candidate
        if self.sim.api_key is None and not self.sim.api_keys:
            return bearer or "anonymous"
        return None

    def _mint(self, request: HttpRequest) -> HttpResponse:
        body = _json(request.body)
        session = body.get("session") if body is not None else None
        if not isinstance(session, dict) or session.get("type") != "realtime":
            return _error(400, "session.type must be 'realtime'")
        seconds = (body or {}).get("expires_after", {}).get("seconds", 600)
        if not isinstance(seconds, int) or not 10 <= seconds <= 7200:
            return _error(400, "expires_after.seconds must be between 10 and 7200")
        value = f"ek_sim{secrets.token_hex(16)}"
        stored = {"object": "realtime.session", "id": f"sess_{secrets.token_hex(8)}", **session}
        expires_at = int(self.clock()) + seconds
        self.secrets[value] = stored
        self._expiry[value] = expires_at
        self.sim.api_keys.add(value)  # the WebSocket handshake takes it like a key
        # Past expires_at it opens nothing: the handshake stops taking it then.
        delay = max(0.0, expires_at - self.clock())
        self._timers.append(asyncio.get_running_loop().call_later(delay, self._forget_expired))
        reply = {"value": value, "expires_at": expires_at, "session": stored}
        return _json_response(200, reply)

    def _forget_expired(self) -> None:
        now = self.clock()
        for value, expires_at in self._expiry.items():
            if expires_at <= now:
                self.sim.api_keys.discard(value)  # sessions it opened go on, as on the service

    async def _create_call(self, request: HttpRequest) -> HttpResponse:
        offer, session = _offer(request)
        if not offer.startswith("v=0"):
            return _error(400, "the body must carry an SDP offer (v=0...)")
        with_media = _has_media(offer)
        if with_media and not webrtc.available():
            return _error(501, webrtc.MISSING)
        call = self._new_call("webrtc")
        key = self._credential(request) or ""
        call.session = {**self.secrets.get(key, {}), **(session or {})}
        self._activate(call)
        if with_media:
            try:
                media, answer = await webrtc.answer(
                    call,
                    offer,
                    stream_delay=self.sim.stream_delay,
                    log_client_event=self.sim.log.append,
                )
            except ValueError as exc:
                call.status = "ended"
                return _error(400, f"the SDP offer was refused: {exc}")
            media.on_end(lambda: self._media_ended(call))
            call.media = media
        else:
            answer = _sdp_answer(call.call_id)
        headers = {
            "Content-Type": "application/sdp",
            "Location": f"/v1/realtime/calls/{call.call_id}",
        }
        return HttpResponse(201, answer.encode(), headers)

    def _media_ended(self, call: SimulatedCall) -> None:
        """The caller's peer connection closed or failed: the call ends, its sidebands close."""
        if call.status == "active":
            call.status = "ended"
            self.sim._own(self._end_call(call))

    async def _end_call(self, call: SimulatedCall) -> None:
        await self._end_media(call)
        await self._close_sidebands(call)

    async def _close_sidebands(self, call: SimulatedCall) -> None:
        await asyncio.gather(*(link.connection.close(1000, "call ended") for link in call.links))

    async def _end_media(self, call: SimulatedCall) -> None:
        media, call.media = call.media, None
        if media is not None:
            await media.close()

    async def _control(self, call_id: str, action: str, request: HttpRequest) -> HttpResponse:
        call = self.calls.get(call_id)
        if call is None or call.status in ("rejected", "ended"):
            return _error(404, f"call {call_id!r} not found")
        body = _json(request.body) or {}
        if action == "accept":
            if call.status != "ringing":
                return _error(400, f"call {call_id!r} was already accepted")
            if body.get("type") != "realtime":
                return _error(400, "type must be 'realtime'")
            call.session = body
            self._activate(call)
        elif action == "reject":
            call.status, call.rejected_with = "rejected", int(body.get("status_code", 603))
        elif action == "refer":
            target = str(body.get("target_uri", ""))
            if not target.startswith(("tel:", "sip:", "sips:")):
                return _error(400, "target_uri must be a tel: or sip: URI")
            call.referred_to.append(target)
        else:
            call.status = "ended"
            await self._end_media(call)
            await self._close_sidebands(call)
        return HttpResponse(200)

    def _new_call(self, kind: Literal["sip", "webrtc"]) -> SimulatedCall:
        self._count += 1
        call = SimulatedCall(call_id=f"rtc_sim{self._count}_{secrets.token_hex(6)}", kind=kind)
        self.calls[call.call_id] = call
        return call

    def _activate(self, call: SimulatedCall) -> None:
        call.status = "active"
        model = str(call.session.get("model") or "gpt-realtime")
        call.state = ConnectionState(
            GA, model, self.sim.scenario, expires_at=int(time.time()) + 3600, tag=call.call_id
        )
        _configure(call.state, call.session)


def sign_webhook(body: bytes, webhook_id: str, timestamp: float, secret: str) -> dict[str, str]:
    """The service's side of Standard Webhooks: ``v1`` HMAC-SHA256 of ``id.timestamp.body``
    with the base64 key after ``whsec_``, written here independently of any verifier."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    stamp = str(int(timestamp))
    digest = hmac.new(key, f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256)
    signature = base64.b64encode(digest.digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{signature}",
    }


def _configure(state: ConnectionState, session: Mapping[str, Any]) -> None:
    """Apply a stored configuration as the service does before the first socket opens."""
    update = {k: copy.deepcopy(v) for k, v in session.items() if k not in ("object", "id", "model")}
    state.receive({"type": "session.update", "session": update})


def _caller_turn(state: ConnectionState, text: str, audio_ms: int) -> list[Event]:
    item_id = state.ids.new("item")
    item = {
        "id": item_id, "object": "realtime.item", "type": "message", "role": "user",
        "status": "completed", "content": [{"type": "input_audio", "transcript": text}],
    }  # fmt: skip
    events: list[Event] = [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": item_id},
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": audio_ms, "item_id": item_id},
    ]
    previous = state.conversation.insert(item)
    committed = {"type": "input_audio_buffer.committed", "previous_item_id": previous}
    events.append({**committed, "item_id": item_id})
    events.extend(state._item_events(item, previous))
    events.extend(_transcription_events(item_id, text, audio_ms))
    if state.active is None:
        events.extend(state._start_response({}, {}))
    return state._stamp(events)


def _offer(request: HttpRequest) -> tuple[str, dict[str, Any] | None]:
    """The SDP offer and optional session of a ``POST /calls`` (multipart or plain SDP)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return request.body.decode("utf-8", "replace"), None
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace")
    session = _json(fields.get("session", "").encode()) if "session" in fields else None
    return fields.get("sdp", ""), session


def _sdp_answer(call_id: str) -> str:
    lines = ["v=0", f"o=- {abs(hash(call_id)) % 10**9} 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    lines += ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 127.0.0.1", "a=rtpmap:111 opus/48000/2"]
    return "\r\n".join(lines) + "\r\n"


def _has_media(offer: str) -> bool:
    """A real WebRTC offer: ICE credentials and a DTLS fingerprint (a stub offer has neither)."""
    return "a=fingerprint:" in offer and "a=ice-ufrag:" in offer


def _cors(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    origin = request.headers.get("origin")
    if origin is None:
        return response
    headers = {
        **response.headers,
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Expose-Headers": "Location",
        "Vary": "Origin",
    }
    return HttpResponse(response.status, response.body, headers)


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_response(status: int, body: Mapping[str, Any]) -> HttpResponse:
    return HttpResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _error(status: int, message: str, *, code: str | None = None) -> HttpResponse:
    error = {"type": "invalid_request_error", "code": code, "message": message, "param": None}
    return _json_response(status, {"error": error})


def _status_of(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)
