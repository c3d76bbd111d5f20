"""Ephemeral client secrets over real sockets: minted, used, and the long-lived key kept home."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from agentkit import Endpoint, Session
from agentkit.calls import CallControl, CallRequestError, ClientSecret, mint_client_secret
from agentkit.errors import ConfigurationError, HandshakeError
from tests.calls.support import CANARY_KEY, OFFER, order_agent, simulator
from tests.support import until_idle


def endpoint(url: str, key: str = CANARY_KEY) -> Endpoint:
    return Endpoint.custom(url, credential=key)


async def test_a_minted_secret_opens_a_session_configured_as_the_agent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with simulator() as sim:
        agent = order_agent()
        secret = await mint_client_secret(
            agent, endpoint(sim.openai_url()), expires_after=120, api_base_url=sim.calls.api_base
        )
        assert secret.value.startswith("ek_")
        assert secret.model == "gpt-realtime"
        browser_gets = json.dumps(secret.for_browser())
        assert CANARY_KEY not in browser_gets and secret.value in browser_gets
        assert "***" in repr(secret) and secret.value not in repr(secret)
        minted = sim.calls.secrets[secret.value]
        assert minted["instructions"] == agent.instructions
        assert [t["name"] for t in minted["tools"]] == ["order_status"]  # declarations only

        # the browser's side: only the ephemeral key
        async with Session(agent, endpoint(sim.openai_url(), secret.value)) as session:
            assert session.session_id is not None
        conn = sim.connections[0]
        assert conn.headers["authorization"] == f"Bearer {secret.value}"
        created = conn.sent.of_type("session.created")[0]["session"]
        assert created["instructions"] == agent.instructions  # the secret's configuration

        # and to open a WebRTC call straight from the browser
        answer = await CallControl(
            endpoint(sim.openai_url(), secret.value), api_base_url=sim.calls.api_base
        ).create_call(OFFER)
        assert answer.sdp.startswith("v=0") and answer.call_id in sim.calls.calls
        call = sim.calls.calls[answer.call_id]
        assert call.session["instructions"] == agent.instructions

        # but it cannot mint more secrets or control calls
        with pytest.raises(CallRequestError) as refused:
            await mint_client_secret(
                agent, endpoint(sim.openai_url(), secret.value), api_base_url=sim.calls.api_base
            )
        assert refused.value.status == 403
        bodies = b"".join(exchange.body for exchange in sim.calls.exchanges)
        assert CANARY_KEY.encode() not in bodies
    assert CANARY_KEY not in caplog.text


async def test_the_offer_is_relayed_and_the_server_learns_the_call() -> None:
    async with simulator() as sim:
        control = CallControl(endpoint(sim.openai_url()), api_base_url=sim.calls.api_base)
        answer = await control.create_call(OFFER, order_agent())
        assert answer.sdp.startswith("v=0")
        assert CANARY_KEY not in answer.sdp
        call = sim.calls.calls[answer.call_id]
        assert call.kind == "webrtc" and call.status == "active"
        assert [t["name"] for t in call.session["tools"]] == ["order_status"]
        with pytest.raises(CallRequestError) as refused:
            await control.create_call("not sdp")
        assert refused.value.status == 400


async def test_a_wrong_key_is_refused_without_echoing_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with simulator() as sim:
        wrong = "sk-wrong-key-1234567890abcdef"
        with pytest.raises(CallRequestError) as refused:
            await mint_client_secret(
                order_agent(), endpoint(sim.openai_url(), wrong), api_base_url=sim.calls.api_base
            )
        assert refused.value.status == 401
        assert wrong not in str(refused.value) and wrong not in caplog.text


@pytest.mark.parametrize("seconds", [9, 7201])
async def test_expiry_out_of_range_fails_before_any_request(seconds: int) -> None:
    with pytest.raises(ConfigurationError, match="expires_after"):
        await mint_client_secret(
            order_agent(), Endpoint.openai(api_key=CANARY_KEY), expires_after=seconds
        )


def test_the_rest_base_follows_the_endpoint() -> None:
    from agentkit.calls._http import api_base
    from agentkit.calls.client_secrets import call_session

    assert api_base(Endpoint.openai(api_key="k")) == "https://api.openai.com/v1/realtime"
    azure = Endpoint.azure("https://res.openai.azure.com", "voice", "k")
    assert api_base(azure) == "https://res.openai.azure.com/openai/v1/realtime"
    assert call_session(order_agent(), azure)["model"] == "voice"  # Azure: the deployment
    assert call_session(order_agent(), Endpoint.openai("gpt-realtime-mini", "k"))["model"] == (
        "gpt-realtime-mini"
    )
    assert repr(ClientSecret("ek_x", 1)) == "ClientSecret(value='***', expires_at=1, model=None)"


async def test_an_expired_secret_opens_nothing_but_its_sessions_go_on() -> None:
    async with simulator() as sim:
        agent = order_agent()
        secret = await mint_client_secret(
            agent, endpoint(sim.openai_url()), expires_after=10, api_base_url=sim.calls.api_base
        )
        browser = endpoint(sim.openai_url(), secret.value)
        control = CallControl(browser, api_base_url=sim.calls.api_base)
        early = await control.create_call(OFFER)  # valid until expires_at
        session = Session(agent, browser)
        await session.start()
        try:
            sim.calls.clock = lambda: secret.expires_at + 0.5
            with pytest.raises(CallRequestError) as refused:
                await control.create_call(OFFER)
            assert refused.value.status == 401 and "expired" in str(refused.value)
            with pytest.raises(HandshakeError) as handshake:
                async with Session(agent, browser):
                    pass
            assert handshake.value.status == 401
            # what it opened before goes on: the session answers, the call is still there
            await session.send_text("order 42?")
            assert (await until_idle(session))[-1].status == "completed"
            assert sim.calls.calls[early.call_id].status == "active"
        finally:
            await session.close()
        # the long-lived key is not a client secret: it never expires
        await mint_client_secret(agent, endpoint(sim.openai_url()), api_base_url=sim.calls.api_base)


async def test_a_secret_expires_on_the_clock_without_any_request() -> None:
    async with simulator() as sim:
        secret = await mint_client_secret(
            order_agent(),
            endpoint(sim.openai_url()),
            expires_after=10,
            api_base_url=sim.calls.api_base,
        )
        assert secret.value in sim.api_keys
        [timer] = sim.calls._timers  # set for expires_at, on the loop's clock
        assert 8 < timer.when() - asyncio.get_running_loop().time() <= 10
        sim.calls.clock = lambda: secret.expires_at + 0.5
        sim.calls._forget_expired()  # what the timer runs then
        assert secret.value not in sim.api_keys
