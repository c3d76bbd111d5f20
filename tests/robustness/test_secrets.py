"""Keys and tokens never show in logs, reprs, exceptions, events or traces of a whole session."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from agentkit import (
    Agent,
    ApiKey,
    AuthenticationError,
    BearerKey,
    ConfigurationError,
    Endpoint,
    EntraToken,
    Session,
    SessionOptions,
    tool,
)
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from tests.robustness.helpers import ask

KEY = "plain-azure-key-0123456789abcdef"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNlY3JldA"
WRONG = "wrong-key-fedcba9876543210"


@tool
def explode() -> str:
    """A tool that fails, so the error path is logged too."""
    raise RuntimeError("tool broke")


class _FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(TOKEN, 4_102_444_800)


def _credentials() -> list[Any]:
    return [ApiKey(KEY), ApiKey(KEY, in_query=True), BearerKey(KEY), EntraToken(_FakeCredential())]


@pytest.mark.parametrize("credential", _credentials(), ids=["header", "query", "bearer", "entra"])
async def test_a_whole_session_leaks_no_secret(
    credential: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scenario = Scenario().on("go").call("explode").say("sorry")
    async with Simulator(scenario, api_key=KEY, accept_token=lambda t: t == TOKEN) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=credential)
        agent = Agent(instructions="x", tools=[explode], modality="text")
        async with Session(agent, endpoint) as session:
            events = await ask(session, "go")
            seen = [repr(endpoint), repr(session), repr(session._transport), endpoint.redacted_url]
            seen.append(repr(await endpoint.handshake()))
            seen.extend(event.model_dump_json() for event in events)
    text = caplog.text + "\n".join(seen)
    assert "tool broke" in text  # the logs did capture the session's work
    assert KEY not in text and TOKEN not in text


async def test_a_refused_key_does_not_appear_in_the_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Simulator(api_key=KEY) as sim:
        for credential in (ApiKey(WRONG), ApiKey(WRONG, in_query=True), BearerKey(WRONG)):
            endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=credential)
            options = SessionOptions(reconnect=ReconnectPolicy(enabled=False))
            with pytest.raises(AuthenticationError) as caught:
                async with Session(Agent(), endpoint, options=options):
                    pass
            rendered = "".join(traceback.format_exception(caught.value))
            assert "401" in str(caught.value)
            assert WRONG not in rendered and WRONG not in repr(caught.value)
    assert WRONG not in caplog.text


def test_plain_ws_is_refused_for_remote_hosts_unless_allowed() -> None:
    with pytest.raises(ConfigurationError):
        Endpoint.custom("ws://realtime.example.com/openai/v1/realtime?model=m", credential=KEY)
    allowed = Endpoint.custom(
        "ws://realtime.example.com/openai/v1/realtime?model=m", credential=KEY, allow_insecure=True
    )
    assert KEY not in repr(allowed)
    assert Endpoint.custom("ws://127.0.0.1:9/openai/v1/realtime?model=m", credential=KEY)
