"""Phone calls: a signed webhook, accept, the agent's tools over the sideband, refer, hang-up.

The simulator posts ``realtime.call.incoming`` to a small application server in the test, which
verifies it, accepts the call and attaches a sideband, as a real deployment would.
"""

from __future__ import annotations

import asyncio
import json
import logging
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

    return Agent(name="phone", instructions="Answer the phone.", tools=[order_status, transfer])


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

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhooks/openai"

    async def webhook(self, request: HttpRequest) -> HttpResponse:
        try:
            call = self.verifier.incoming_call(request.body, request.headers)
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
        await self.sessions.put(SidebandSession(call.call_id, agent, self.endpoint, deps=call))


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
            assert [t["name"] for t in call.session["tools"]] == ["order_status", "transfer"]
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


def test_tolerance_is_configurable_and_bounded() -> None:
    secret = "whsec_" + "C" * 44
    now = 1_000_000.0
    strict = WebhookVerifier(secret, tolerance=30, clock=lambda: now)
    body = json.dumps({"type": "realtime.call.incoming", "data": {"call_id": "rtc_1"}}).encode()
    headers = sign_webhook(body, "wh_1", now - 31, secret)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        strict.incoming_call(body, headers)
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
