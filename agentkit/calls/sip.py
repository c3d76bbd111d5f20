"""Phone calls (SIP) and browser calls (WebRTC): the control plane on the application's side.

A SIP call arrives as a ``realtime.call.incoming`` webhook. :class:`WebhookVerifier` checks it
(Standard Webhooks signature through the ``standardwebhooks`` library, timestamp tolerance,
replay of a delivery id, remembered in a :class:`ReplayStore` that several workers may share)
and returns an :class:`IncomingCall`; :class:`CallControl` accepts it
with the agent's configuration, rejects, transfers (refer) or hangs up. A browser's WebRTC
offer is relayed by :meth:`CallControl.create_call`, which returns the answer and the
``call_id``. Either way the server then attaches a :class:`~agentkit.calls.SidebandSession`.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

from agentkit.agent import Agent
from agentkit.calls._http import api_base, post, refused
from agentkit.calls.client_secrets import call_session
from agentkit.endpoints import Endpoint
from agentkit.errors import AgentkitError, ConfigurationError, ProtocolError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CallAnswer",
    "CallControl",
    "IncomingCall",
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "SipHeader",
    "WebhookVerificationError",
    "WebhookVerifier",
]

MAX_TOLERANCE = 300  # the standardwebhooks library refuses anything older anyway
_REFER_SCHEMES = ("tel:", "sip:", "sips:")


class WebhookVerificationError(AgentkitError):
    """A webhook was refused: bad or missing signature, a timestamp out of tolerance, or a
    delivery id already seen. Answer the sender with 400 and do nothing else."""


@dataclass(frozen=True)
class SipHeader:
    """One header of the SIP INVITE, as the service passed it (untrusted caller data)."""

    name: str
    value: str


@dataclass(frozen=True)
class IncomingCall:
    """A verified ``realtime.call.incoming`` webhook.

    Attributes:
        call_id: what :class:`CallControl` and :class:`~agentkit.calls.SidebandSession` take.
        sip_headers: the INVITE's headers in order (repeats kept); untrusted caller data.
        event_id: the webhook event's id.
        created_at: unix time the service created the event.
    """

    call_id: str
    sip_headers: tuple[SipHeader, ...] = ()
    event_id: str = ""
    created_at: int = 0

    def header(self, name: str) -> str | None:
        """The first value of the SIP header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((h.value for h in self.sip_headers if h.name.lower() == wanted), None)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> IncomingCall:
        """Read a webhook event; raises :class:`~agentkit.errors.ProtocolError` if it is not
        a ``realtime.call.incoming`` with a ``call_id``."""
        data = event.get("data")
        if event.get("type") != "realtime.call.incoming" or not isinstance(data, Mapping):
            raise ProtocolError(f"not a realtime.call.incoming event: {event.get('type')!r}")
        call_id = data.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ProtocolError("realtime.call.incoming without a call_id")
        headers = tuple(
            SipHeader(str(h.get("name", "")), str(h.get("value", "")))
            for h in data.get("sip_headers") or []
            if isinstance(h, Mapping)
        )
        return cls(call_id, headers, str(event.get("id", "")), int(event.get("created_at") or 0))


@runtime_checkable
class ReplayStore(Protocol):
    """Where a :class:`WebhookVerifier` remembers the delivery ids it accepted.

    Give every worker that receives webhooks the same store (:class:`RedisReplayStore`) and a
    delivery replayed to any of them is refused; :class:`MemoryReplayStore` covers one process.
    """

    async def first_seen(self, delivery_id: str, ttl: int) -> bool:
        """Record ``delivery_id`` for ``ttl`` seconds; ``True`` if it was not recorded yet.

        Must be atomic: of two workers recording the same id at once, only one gets ``True``.
        """
        ...


class MemoryReplayStore:
    """Delivery ids in this process's memory: enough for a single worker.

    Args:
        clock: the current unix time (tests).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}  # delivery id -> when it may be forgotten

    def __repr__(self) -> str:
        return f"MemoryReplayStore(ids={len(self._until)})"

    async def first_seen(self, delivery_id: str, ttl: int) -> bool:
        now = self._clock()
        for known in [k for k, until in self._until.items() if until <= now]:
            del self._until[known]
        if delivery_id in self._until:
            return False
        self._until[delivery_id] = now + ttl
        return True


class RedisReplayStore:
    """Delivery ids in Redis, shared by every worker pointed at it (``SET key NX EX ttl``).

    Needs redis-py, which the ``celery`` extra brings: ``pip install "agentkit-realtime[celery]"``.

    Args:
        redis: a ``redis://`` URL (the store opens and closes its own client) or a
            ``redis.asyncio.Redis`` client you own.
        prefix: put before each id, so the keys do not meet your application's own.

    Raises:
        ConfigurationError: redis-py is not installed.
    """

    def __init__(self, redis: str | Redis, *, prefix: str = "agentkit:webhook:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigurationError(
                'RedisReplayStore needs redis-py: pip install "agentkit-realtime[celery]"'
            ) from None
        self._owned = isinstance(redis, str)
        self._client: Redis = aioredis.Redis.from_url(redis) if isinstance(redis, str) else redis
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"RedisReplayStore(prefix={self.prefix!r})"  # a URL may carry a password

    async def first_seen(self, delivery_id: str, ttl: int) -> bool:
        added = await self._client.set(f"{self.prefix}{delivery_id}", 1, nx=True, ex=ttl)
        return bool(added)

    async def aclose(self) -> None:
        """Close the client the store opened from a URL (a client you passed stays open)."""
        if self._owned:
            await self._client.aclose()

    async def __aenter__(self) -> RedisReplayStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class WebhookVerifier:
    """Checks webhook deliveries signed with the project's webhook secret.

    Args:
        secret: the signing secret (``whsec_...``) from the platform's webhook settings.
        tolerance: seconds a delivery's timestamp may be away from now (at most 300).
        replay_store: where accepted delivery ids are remembered for as long as their timestamp
            passes; one :class:`MemoryReplayStore` per verifier by default. Behind several
            workers, share a :class:`RedisReplayStore`.
        clock: the current unix time (tests).

    Raises:
        ConfigurationError: the ``sip`` extra is not installed, the secret is empty, or the
            tolerance is out of range.
    """

    def __init__(
        self,
        secret: str,
        *,
        tolerance: float = 300,
        replay_store: ReplayStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            from standardwebhooks import Webhook
        except ImportError:
            raise ConfigurationError(
                "webhook verification needs the sip extra: pip install 'agentkit-realtime[sip]'"
            ) from None
        if not secret:
            raise ConfigurationError("the webhook secret is empty")
        if not 0 < tolerance <= MAX_TOLERANCE:
            raise ConfigurationError(f"tolerance must be 1 to {MAX_TOLERANCE} s, got {tolerance}")
        self._webhook = Webhook(secret)
        self.tolerance = tolerance
        self.replay_store: ReplayStore = replay_store or MemoryReplayStore(clock=clock)
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"WebhookVerifier(secret='***', tolerance={self.tolerance}, "
            f"replay_store={self.replay_store!r})"
        )

    async def verify(self, body: bytes | str, headers: Mapping[str, str]) -> dict[str, Any]:
        """The delivery's JSON event, once its signature, timestamp and id pass.

        The id is recorded only after the signature passes, so forged deliveries cannot fill
        the store or block a genuine one.

        Raises:
            WebhookVerificationError: saying which check failed (never echoing the secret).
        """
        from standardwebhooks.webhooks import WebhookVerificationError as Refused

        lowered = {name.lower(): value for name, value in headers.items()}
        delivery_id = lowered.get("webhook-id", "")
        stamp = self._timestamp(lowered.get("webhook-timestamp", ""))
        try:
            event = self._webhook.verify(body, lowered)
        except (Refused, ValueError) as exc:
            raise WebhookVerificationError(f"webhook refused: {exc}") from None
        if not isinstance(event, dict):
            raise WebhookVerificationError("webhook refused: the body is not a JSON object")
        # Remembered until its timestamp falls out of tolerance: after that, it fails anyway.
        ttl = max(1, math.ceil(stamp + self.tolerance - self._clock()))
        if not await self.replay_store.first_seen(delivery_id, ttl):
            raise WebhookVerificationError(f"webhook refused: delivery {delivery_id!r} replayed")
        return event

    async def incoming_call(self, body: bytes | str, headers: Mapping[str, str]) -> IncomingCall:
        """Verify a delivery and read it as a ``realtime.call.incoming``.

        Raises:
            WebhookVerificationError: the delivery is not authentic or is a replay.
            ProtocolError: it is authentic but another event type.
        """
        return IncomingCall.from_event(await self.verify(body, headers))

    def _timestamp(self, header: str) -> float:
        try:
            stamp = float(header)
        except ValueError:
            raise WebhookVerificationError("webhook refused: missing or bad timestamp") from None
        if not math.isfinite(stamp) or abs(self._clock() - stamp) > self.tolerance:
            raise WebhookVerificationError("webhook refused: timestamp out of tolerance")
        return stamp


@dataclass(frozen=True)
class CallAnswer:
    """A relayed WebRTC offer: the SDP answer for the browser, and the call to attach to."""

    call_id: str
    sdp: str


class CallControl:
    """Accept, reject, transfer and hang up calls; relay WebRTC offers. Each is one request.

    Args:
        endpoint: the service and the long-lived credential.
        api_base_url: the REST base when it is not the endpoint's (a gateway, the simulator).
        timeout: seconds per request.
    """

    def __init__(
        self, endpoint: Endpoint, *, api_base_url: str | None = None, timeout: float = 10.0
    ) -> None:
        self.endpoint = endpoint
        self.base = api_base(endpoint, api_base_url)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"CallControl(base={self.base!r})"

    async def accept(self, call_id: str, agent: Agent) -> None:
        """Answer an incoming SIP call with ``agent``'s configuration (tools as declarations)."""
        await self._post(call_id, "accept", call_session(agent, self.endpoint))

    async def reject(self, call_id: str, status_code: int = 603) -> None:
        """Decline an incoming call with a SIP status (603 Decline by default)."""
        if not 400 <= status_code <= 699:
            raise ConfigurationError(f"a SIP rejection is 400 to 699, got {status_code}")
        await self._post(call_id, "reject", {"status_code": status_code})

    async def refer(self, call_id: str, target_uri: str) -> None:
        """Transfer the call to ``tel:+14155550123`` or ``sip:agent@example.com``."""
        if not target_uri.lower().startswith(_REFER_SCHEMES):
            raise ConfigurationError(
                f"a transfer target is a tel:, sip: or sips: URI, got {target_uri!r}"
            )
        await self._post(call_id, "refer", {"target_uri": target_uri})

    async def hangup(self, call_id: str) -> None:
        """End the call (SIP or WebRTC); its sideband closes."""
        await self._post(call_id, "hangup", {})

    async def create_call(self, sdp: str, agent: Agent | None = None) -> CallAnswer:
        """Relay a browser's SDP offer (``POST /calls``) and return the answer and ``call_id``.

        Raises:
            CallRequestError: the service refused the offer.
            ProtocolError: the answer named no call.
        """
        boundary = f"agentkit-{uuid.uuid4().hex}"
        parts = [("sdp", "application/sdp", sdp)]
        if agent is not None:
            session = call_session(agent, self.endpoint)
            parts.append(("session", "application/json", json.dumps(session)))
        body = _multipart(boundary, parts)
        reply = await post(
            self.endpoint,
            f"{self.base}/calls",
            body,
            content_type=f"multipart/form-data; boundary={boundary}",
            accept="application/sdp",
            timeout=self.timeout,
        )
        if reply.status not in (200, 201):
            raise refused("relaying the WebRTC offer", reply)
        location = {k.lower(): v for k, v in reply.headers.items()}.get("location", "")
        call_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not call_id:
            raise ProtocolError("the WebRTC answer came without a Location naming the call")
        return CallAnswer(call_id=call_id, sdp=reply.body.decode("utf-8", "replace"))

    async def _post(self, call_id: str, action: str, payload: Mapping[str, Any]) -> None:
        if not call_id:
            raise ConfigurationError("call_id is empty")
        url = f"{self.base}/calls/{quote(call_id, safe='')}/{action}"
        body = json.dumps(payload).encode()
        reply = await post(self.endpoint, url, body, timeout=self.timeout)
        if not 200 <= reply.status < 300:
            raise refused(f"{action} of call {call_id!r}", reply)


def _multipart(boundary: str, parts: list[tuple[str, str, str]]) -> bytes:
    lines: list[str] = []
    for name, content_type, value in parts:
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"']
        lines += [f"Content-Type: {content_type}", "", value]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode()
