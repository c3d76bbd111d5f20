"""Phone calls: a signed webhook, accept, the agent's tools over the sideband, refer, hang-up.

The simulator posts ``realtime.call.incoming`` to a small application server in the test, which
verifies it, accepts the call and attaches a sideband, as a real deployment would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from agentkit import Agent, Endpoint, SessionOptions, ToolContext, tool
from agentkit.calls import (
    CallControl,
    CallRequestError,
    IncomingCall,
    Keypad,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    SidebandSession,
    WebhookVerificationError,
    WebhookVerifier,
)
from agentkit.errors import ConfigurationError, DeploymentNotFoundError, ProtocolError
from agentkit.events import DtmfReceived, ResponseFinished, SessionClosed, ToolCallFinished
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from agentkit.testing._http import HttpRequest, HttpResponse, HttpServer
from agentkit.testing.calls import sign_webhook
from tests.calls.support import CANARY_KEY
from tests.dispatch.loopback import Recorder
from tests.support import TIMEOUT

pytest.importorskip("standardwebhooks")

TRANSFER_TO = "tel:+14155550123"


def phone_agent(control: CallControl) -> Agent:
    @tool
    async def order_status(ctx: ToolContext[IncomingCall]) -> str:
        """The caller's latest order."""
        return f"customer {ctx.deps.header('x-customer')}: order shipped"

    @tool
    async def transfer(ctx: ToolContext[IncomingCall], target: str) -> str:
        """Transfer the caller to a person."""
        await control.refer(ctx.deps.call_id, target)
        return "transferring"

    @tool
    def find_order(order_id: str) -> str:
        """An order by its number."""
        return f"order {order_id} shipped"

    return Agent(
        name="phone", instructions="Answer the phone.", tools=[order_status, transfer, find_order]
    )


def _typed(outputs: Any) -> dict[str, str]:
    found = re.search(r"typed (\S+) on", outputs.user_text)
    return {"order_id": found[1] if found else "?"}


def phone_scenario() -> Scenario:
    return (
        Scenario()
        .on("order")
        .call("order_status")
        .then()
        .say("Your order shipped.")
        .on("human")
        .call("transfer", target=TRANSFER_TO)
        .then()
        .say("Transferring you now.")
        .on("keypad")
        .call("find_order", _typed)
        .then()
        .say("Found it.")
        .scenario
    )


class PhoneApp:
    """The application's server: webhook in, accept, sideband; 400 for what fails checks."""

    def __init__(self, sim: Simulator, verifier: WebhookVerifier) -> None:
        self.endpoint = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        self.control = CallControl(self.endpoint, api_base_url=sim.calls.api_base)
        self.verifier = verifier
        self.server = HttpServer(self.webhook)
        self.sessions: asyncio.Queue[SidebandSession] = asyncio.Queue()
        self.refusals: list[str] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.reject_with: int | None = None
        self.keypad: Keypad | None = None

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhooks/openai"

    async def webhook(self, request: HttpRequest) -> HttpResponse:
        try:
            call = await self.verifier.incoming_call(request.body, request.headers)
        except WebhookVerificationError as exc:
            self.refusals.append(str(exc))
            return HttpResponse(400)
        task = asyncio.get_running_loop().create_task(self.answer(call))
        self.tasks.add(task)
        return HttpResponse(200)

    async def answer(self, call: IncomingCall) -> None:
        if self.reject_with is not None:
            await self.control.reject(call.call_id, self.reject_with)
            return
        agent = phone_agent(self.control)
        await self.control.accept(call.call_id, agent)
        session = SidebandSession(call.call_id, agent, self.endpoint, deps=call, keypad=self.keypad)
        await self.sessions.put(session)


@asynccontextmanager
async def phone_app(sim: Simulator, **verifier: Any) -> AsyncIterator[PhoneApp]:
    app = PhoneApp(sim, WebhookVerifier(sim.calls.webhook_secret, **verifier))
    await app.server.start()
    try:
        yield app
    finally:
        await asyncio.gather(*app.tasks, return_exceptions=True)
        await app.server.stop()


async def test_accept_tool_refer_hang_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Simulator(phone_scenario(), api_key=CANARY_KEY) as sim, phone_app(sim) as app:
        headers = [("From", "<sip:+15550001111@carrier>"), ("X-Customer", "c-77")]
        delivery = await sim.calls.incoming_call(app.url, sip_headers=headers)
        assert delivery.status == 200
        session = await asyncio.wait_for(app.sessions.get(), TIMEOUT)
        events = Recorder(session)
        async with session:
            call = sim.calls.calls[delivery.call_id]
            assert call.status == "active"
            names = [t["name"] for t in call.session["tools"]]
            assert names == ["order_status", "transfer", "find_order"]
            assert call.session["instructions"] == "Answer the phone."

            await sim.calls.caller_says(delivery.call_id, "where is my order?")
            first = await events.wait_for(ToolCallFinished)
            assert first.output == "customer c-77: order shipped"  # the SIP header reached it
            await events.wait_for(ResponseFinished, where=lambda e: "shipped" in e.text)

            await sim.press_keys("1")
            assert (await events.wait_for(DtmfReceived)).key == "1"

            await sim.calls.caller_says(delivery.call_id, "a human, please")
            second = await events.wait_for(ToolCallFinished, where=lambda e: e.name == "transfer")
            assert second.output == "transferring"
            await events.wait_for(ResponseFinished, where=lambda e: "Transferring" in e.text)
            assert call.referred_to == [TRANSFER_TO]

            await app.control.hangup(delivery.call_id)
            closed = await events.wait_for(SessionClosed)
            assert closed.code == 1000
        assert sim.calls.calls[delivery.call_id].status == "ended"
        outputs = [
            e["item"]["call_id"]
            for e in sim.received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
        assert sorted(outputs) == sorted([first.call_id, second.call_id])
        bodies = b"".join(exchange.body for exchange in sim.calls.exchanges)
        assert CANARY_KEY.encode() not in bodies
    assert CANARY_KEY not in caplog.text


async def test_bad_signature_old_timestamp_and_replay_are_refused() -> None:
    async with Simulator(phone_scenario(), api_key=CANARY_KEY) as sim, phone_app(sim) as app:
        forged = await sim.calls.incoming_call(app.url, secret="whsec_" + "A" * 44)
        stale = await sim.calls.incoming_call(app.url, timestamp=time.time() - 600)
        future = await sim.calls.incoming_call(app.url, timestamp=time.time() + 600)
        genuine = await sim.calls.incoming_call(app.url)
        replayed = await sim.calls.deliver(app.url, genuine.body, genuine.headers)
        assert [forged.status, stale.status, future.status, genuine.status, replayed] == [
            400,
            400,
            400,
            200,
            400,
        ]
        assert "signature" in app.refusals[0]
        assert "tolerance" in app.refusals[1] and "tolerance" in app.refusals[2]
        assert "replayed" in app.refusals[3]
        session = await asyncio.wait_for(app.sessions.get(), TIMEOUT)  # only the genuine one
        assert session.call_id == genuine.call_id
        for refused in (forged, stale, future):
            assert sim.calls.calls[refused.call_id].status == "ringing"


async def test_a_tampered_body_is_refused() -> None:
    async with Simulator(phone_scenario(), api_key=CANARY_KEY) as sim, phone_app(sim) as app:
        genuine = await sim.calls.incoming_call(app.url)
        event = json.loads(genuine.body)
        event["data"]["call_id"] = "rtc_someone_else"
        tampered = json.dumps(event).encode()
        assert await sim.calls.deliver(app.url, tampered, genuine.headers) == 400
        assert "signature" in app.refusals[-1]


async def test_tolerance_is_configurable_and_bounded() -> None:
    secret = "whsec_" + "C" * 44
    now = 1_000_000.0
    strict = WebhookVerifier(secret, tolerance=30, clock=lambda: now)
    body = json.dumps({"type": "realtime.call.incoming", "data": {"call_id": "rtc_1"}}).encode()
    headers = sign_webhook(body, "wh_1", now - 31, secret)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        await strict.incoming_call(body, headers)
    for bad in (0, 301):
        with pytest.raises(ConfigurationError, match="tolerance"):
            WebhookVerifier(secret, tolerance=bad)
    assert "C" * 10 not in repr(strict)


def test_an_authentic_event_of_another_type_is_not_a_call() -> None:
    with pytest.raises(ProtocolError, match="realtime.call.incoming"):
        IncomingCall.from_event({"type": "response.completed", "data": {}})
    call = IncomingCall.from_event(
        {
            "type": "realtime.call.incoming",
            "data": {"call_id": "rtc_9", "sip_headers": [{"name": "From", "value": "x"}]},
        }
    )
    assert call.header("from") == "x" and call.header("to") is None


async def test_a_rejected_call_has_no_sideband() -> None:
    async with Simulator(phone_scenario(), api_key=CANARY_KEY) as sim, phone_app(sim) as app:
        app.reject_with = 486
        delivery = await sim.calls.incoming_call(app.url)
        await asyncio.gather(*app.tasks)
        call = sim.calls.calls[delivery.call_id]
        assert call.status == "rejected" and call.rejected_with == 486
        options = SessionOptions(reconnect=ReconnectPolicy(enabled=False))
        session = SidebandSession(delivery.call_id, Agent(name="a"), app.endpoint, options=options)
        with pytest.raises(DeploymentNotFoundError):
            await session.start()
        with pytest.raises(CallRequestError) as gone:
            await app.control.hangup(delivery.call_id)
        assert gone.value.status == 404


async def test_bad_control_arguments_fail_before_any_request() -> None:
    control = CallControl(Endpoint.openai(api_key=CANARY_KEY))
    with pytest.raises(ConfigurationError, match="tel:"):
        await control.refer("rtc_1", "+14155550123")
    with pytest.raises(ConfigurationError, match="699"):
        await control.reject("rtc_1", 200)


def _keypad_messages(sim: Simulator) -> list[str]:
    return [
        part["text"]
        for e in sim.received
        if e["type"] == "conversation.item.create" and e["item"].get("role") == "user"
        for part in e["item"]["content"]
        if "keypad" in part.get("text", "")
    ]


async def test_keypad_entries_reach_the_model() -> None:
    async with Simulator(phone_scenario(), api_key=CANARY_KEY) as sim, phone_app(sim) as app:
        app.keypad = Keypad(pause=0.5)
        delivery = await sim.calls.incoming_call(app.url)
        session = await asyncio.wait_for(app.sessions.get(), TIMEOUT)
        events = Recorder(session)
        async with session:
            await sim.press_keys("42#")  # ended by the hash key
            found = await events.wait_for(ToolCallFinished, where=lambda e: e.name == "find_order")
            assert found.output == "order 42 shipped"
            await events.wait_for(ResponseFinished, where=lambda e: "Found" in e.text)
            assert [e.key for e in events.of(DtmfReceived)] == ["4", "2", "#"]

            await sim.press_keys("7")  # ended by the pause
            seven = await events.wait_for(
                ToolCallFinished, where=lambda e: e.output == "order 7 shipped"
            )
            assert seven.name == "find_order"
            await events.wait_for(ResponseFinished, count=2, where=lambda e: "Found" in e.text)
            assert _keypad_messages(sim) == [
                "[The caller typed 42 on the phone keypad.]",
                "[The caller typed 7 on the phone keypad.]",
            ]
            await app.control.hangup(delivery.call_id)
            await events.wait_for(SessionClosed)


async def test_without_a_keypad_presses_stay_events() -> None:
    async with Simulator(phone_scenario(), api_key=CANARY_KEY) as sim, phone_app(sim) as app:
        delivery = await sim.calls.incoming_call(app.url)
        session = await asyncio.wait_for(app.sessions.get(), TIMEOUT)
        events = Recorder(session)
        async with session:
            await sim.press_keys("42#")
            await events.wait_for(DtmfReceived, where=lambda e: e.key == "#")
            await sim.calls.caller_says(delivery.call_id, "where is my order?")
            await events.wait_for(ResponseFinished, where=lambda e: "shipped" in e.text)
            assert _keypad_messages(sim) == []  # the presses came before this answer
            await app.control.hangup(delivery.call_id)


def test_keypad_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="pause"):
        Keypad(pause=0)
    with pytest.raises(ConfigurationError, match="max_keys"):
        Keypad(max_keys=0)
    for template in ("no placeholder", "{keys} for {caller}", "{0}"):
        with pytest.raises(ConfigurationError, match="template"):
            Keypad(template=template)
    assert Keypad(template="Keys: {keys}").template == "Keys: {keys}"


# -- replay protection ----------------------------------------------------------------------


def _delivery(secret: str, webhook_id: str, stamp: float) -> tuple[bytes, dict[str, str]]:
    event = {"type": "realtime.call.incoming", "data": {"call_id": f"rtc_{webhook_id}"}}
    body = json.dumps(event).encode()
    return body, sign_webhook(body, webhook_id, stamp, secret)


async def test_a_delivery_id_is_remembered_for_the_tolerance_window() -> None:
    secret = "whsec_" + "D" * 44
    now = [time.time()]  # the library checks real time too, within 5 minutes
    store = MemoryReplayStore(clock=lambda: now[0])
    verifier = WebhookVerifier(secret, tolerance=60, replay_store=store, clock=lambda: now[0])
    assert isinstance(store, ReplayStore)
    body, headers = _delivery(secret, "wh_a", now[0])
    await verifier.incoming_call(body, headers)
    now[0] += 59
    with pytest.raises(WebhookVerificationError, match="replayed"):
        await verifier.incoming_call(body, headers)
    now[0] += 2  # out of tolerance: refused for its age, and forgotten by the store
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        await verifier.incoming_call(body, headers)
    assert await store.first_seen("wh_a", 60)


async def test_a_forged_delivery_does_not_use_up_its_id() -> None:
    secret = "whsec_" + "E" * 44
    verifier = WebhookVerifier(secret)
    body, genuine = _delivery(secret, "wh_b", time.time())
    _, forged = _delivery("whsec_" + "F" * 44, "wh_b", time.time())
    with pytest.raises(WebhookVerificationError, match="signature"):
        await verifier.incoming_call(body, forged)
    assert (await verifier.incoming_call(body, genuine)).call_id == "rtc_wh_b"


async def test_workers_sharing_redis_refuse_a_replay_across_them(redis_url: str) -> None:
    import redis.asyncio as aioredis

    secret = "whsec_" + "G" * 44
    async with RedisReplayStore(redis_url) as one, RedisReplayStore(redis_url) as two:
        first, second = (
            WebhookVerifier(secret, replay_store=one),
            WebhookVerifier(secret, replay_store=two),
        )
        body, headers = _delivery(secret, "wh_c", time.time())
        assert (await first.incoming_call(body, headers)).call_id == "rtc_wh_c"
        with pytest.raises(WebhookVerificationError, match="replayed"):
            await second.incoming_call(body, headers)
        with pytest.raises(WebhookVerificationError, match="replayed"):
            await first.incoming_call(body, headers)
        other, other_headers = _delivery(secret, "wh_d", time.time())
        assert (await second.incoming_call(other, other_headers)).call_id == "rtc_wh_d"
        assert "redis://" not in repr(first)

    client = aioredis.Redis.from_url(redis_url)
    try:
        ttl = await client.ttl("agentkit:webhook:wh_c")
        assert 0 < ttl <= 300  # kept as long as the timestamp passes, then gone
        assert sorted(await client.keys("agentkit:*")) == [
            b"agentkit:webhook:wh_c",
            b"agentkit:webhook:wh_d",
        ]
    finally:
        await client.aclose()


async def test_a_client_passed_in_stays_open(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        async with RedisReplayStore(client, prefix="calls:") as store:
            assert await store.first_seen("wh_e", 10)
            assert not await store.first_seen("wh_e", 10)
        assert await client.exists("calls:wh_e") == 1
    finally:
        await client.aclose()


def test_the_redis_store_names_the_extra_when_redis_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=re.escape("agentkit-realtime[celery]")):
        RedisReplayStore("redis://127.0.0.1:1/0")
