"""Outages beyond the matrix: give-up, fail-fast, throttling, a drop during a tool, expiry."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.events import (
    Reconnected,
    ReconnectGaveUp,
    Reconnecting,
    ResponseFinished,
    SessionClosed,
)
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from tests.support import TIMEOUT, until_event

FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, max_seconds=TIMEOUT)
SCENARIO = Scenario().on("hello").say("Hi there.").on("slow").call("slow_lookup").say("Done.")

started: collections.Counter[str] = collections.Counter()
release = asyncio.Event()
running = asyncio.Event()


@tool
async def slow_lookup() -> str:
    """A tool that waits until the test lets it finish."""
    started["slow_lookup"] += 1
    running.set()
    await release.wait()
    return "found"


def _agent() -> Agent:
    return Agent(instructions="x", tools=[slow_lookup], modality="text")


def _endpoint(sim: Simulator) -> Endpoint:
    return Endpoint.custom(sim.ga_url(model="m"), credential=sim.api_key)


async def _answer(session: Session, text: str) -> str:
    await session.send_text(text)
    events = await until_event(session, ResponseFinished)
    finished = [e for e in events if isinstance(e, ResponseFinished)]
    return finished[-1].text


async def test_server_gone_longer_than_the_budget_gives_up_cleanly() -> None:
    async with Simulator(SCENARIO) as sim:
        options = SessionOptions(reconnect=FAST)
        async with Session(_agent(), _endpoint(sim), options=options) as session:
            await sim.go_offline()
            events = await until_event(session, SessionClosed)
    attempts = [e for e in events if isinstance(e, Reconnecting)]
    gave_up = [e for e in events if isinstance(e, ReconnectGaveUp)]
    assert [e.attempt for e in attempts] == [1, 2, 3]
    assert len(gave_up) == 1 and gave_up[0].attempts == 3
    assert isinstance(events[-1], SessionClosed)
    assert session.closed


async def test_401_on_reconnect_is_not_retried() -> None:
    async with Simulator(SCENARIO) as sim:
        options = SessionOptions(reconnect=FAST)
        async with Session(_agent(), _endpoint(sim), options=options) as session:
            sim.faults.refuse_handshake(401, body='{"error":{"message":"bad key"}}', times=5)
            await sim.close_connections(1011, "server fault")
            events = await until_event(session, SessionClosed)
    attempts = [e for e in events if isinstance(e, Reconnecting)]
    gave_up = [e for e in events if isinstance(e, ReconnectGaveUp)]
    assert len(attempts) == 1
    assert len(gave_up) == 1 and "401" in gave_up[0].reason
    assert len(sim.connections) == 1  # the refused handshake never became a connection


async def test_throttled_handshake_is_retried_after_retry_after() -> None:
    async with Simulator(SCENARIO) as sim:
        options = SessionOptions(reconnect=FAST)
        async with Session(_agent(), _endpoint(sim), options=options) as session:
            sim.faults.refuse_handshake(429, headers={"Retry-After": "0"}, times=1)
            await sim.close_connections(1011, "server fault")
            events = await until_event(session, Reconnected)
            assert await _answer(session, "hello") == "Hi there."
    assert [e.attempt for e in events if isinstance(e, Reconnecting)] == [1, 2]


async def test_a_drop_during_a_running_tool_answers_it_once_on_the_new_socket() -> None:
    started.clear()
    release.clear()
    running.clear()
    async with Simulator(SCENARIO) as sim:
        options = SessionOptions(reconnect=FAST)
        async with Session(_agent(), _endpoint(sim), options=options) as session:
            await session.send_text("slow please")
            await asyncio.wait_for(running.wait(), TIMEOUT)
            await sim.close_connections(1011, "dropped mid-tool")
            await until_event(session, Reconnected)
            release.set()
            events = await until_event(session, ResponseFinished)
    assert started["slow_lookup"] == 1
    assert [e for e in events if isinstance(e, ResponseFinished)][-1].text == "Done."
    outputs = [
        [e for e in c.received if e["type"] == "conversation.item.create"
         and e["item"]["type"] == "function_call_output"]
        for c in sim.connections
    ]  # fmt: skip
    assert [len(per_connection) for per_connection in outputs] == [0, 1]


async def test_service_ending_the_session_at_max_duration_is_recovered() -> None:
    expiry = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, expiry_margin=None)
    async with Simulator(SCENARIO, max_session_seconds=0.5) as sim:
        options = SessionOptions(reconnect=expiry)
        async with Session(_agent(), _endpoint(sim), options=options) as session:
            assert await _answer(session, "hello") == "Hi there."
            events = await until_event(session, Reconnected)
            assert await _answer(session, "hello again") == "Hi there."
    reconnected = [e for e in events if isinstance(e, Reconnected)]
    assert "maximum duration" in reconnected[0].reason
    assert sim.connections[0].close_code == 1001
    replayed = _texts(sim.connections[1].received)
    assert "hello" in replayed and "Hi there." in replayed


async def test_rollover_happens_before_the_service_expires_the_session() -> None:
    rollover = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, expiry_margin=59.0)
    async with Simulator(SCENARIO, max_session_seconds=60.0) as sim:
        options = SessionOptions(reconnect=rollover)
        async with Session(_agent(), _endpoint(sim), options=options) as session:
            assert await _answer(session, "hello") == "Hi there."
            events = await until_event(session, Reconnected)
            assert await _answer(session, "hello again") == "Hi there."
    reconnected = [e for e in events if isinstance(e, Reconnected)]
    assert "about to reach its maximum duration" in reconnected[0].reason
    assert sim.connections[0].close_code != 1001  # agentkit left first; the service never had to


def _texts(received: list[dict[str, Any]]) -> list[str]:
    return [
        part.get("text", "")
        for event in received
        if event["type"] == "conversation.item.create"
        for part in event["item"].get("content", [])
    ]


class _RefusingCredential:
    """Stands in for an azure-identity credential whose sign-in is gone."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        self.calls += 1
        raise ClientAuthenticationError("AADSTS700082: the refresh token has expired")


async def test_an_entra_credential_that_cannot_sign_in_is_not_retried() -> None:
    from agentkit import CredentialError, EntraToken

    credential = _RefusingCredential()
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=EntraToken(credential))
        with pytest.raises(CredentialError, match="AADSTS700082"):
            async with Session(_agent(), endpoint, options=SessionOptions(reconnect=FAST)):
                pass
    assert credential.calls == 1  # one try: a refused sign-in does not loop
    assert sim.connections == []


async def test_a_token_the_service_refuses_on_reconnect_is_not_retried() -> None:
    from azure.core.credentials import AccessToken

    from agentkit import EntraToken

    tokens = iter(["good-token", "expired-token", "expired-token"])

    class _Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(next(tokens), 0)  # expires at once: fetched anew each connect

    accepted = {"good-token"}
    async with Simulator(SCENARIO, accept_token=accepted.__contains__) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=EntraToken(_Credential()))
        async with Session(_agent(), endpoint, options=SessionOptions(reconnect=FAST)) as session:
            await sim.close_connections(1011, "server fault")
            events = await until_event(session, SessionClosed)
    assert len([e for e in events if isinstance(e, Reconnecting)]) == 1
    (gave_up,) = [e for e in events if isinstance(e, ReconnectGaveUp)]
    assert "401" in gave_up.reason and "expired-token" not in gave_up.reason
