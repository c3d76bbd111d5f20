"""One long conversation with a reasoning model that uses every feature, checked against the
official SDK both ways: every server event the simulator sent validates strictly against the
SDK's GA server events, and every client event agentkit sent against its client events.

The conversation: a preamble, parallel tool calls and more words in one response; an image; a
spoken turn under server VAD; a barge-in that truncates audio; an aside while a response runs;
an idle timeout; keypad presses; a dropped socket with the conversation replayed; one more turn.
"""

from __future__ import annotations

import json
from typing import Any

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.events import (
    AsideFinished,
    DtmfReceived,
    InputTimeout,
    Interrupted,
    Reconnected,
    ResponseFinished,
    ResponseStarted,
    UsageUpdated,
)
from agentkit.protocol.config import TurnDetection
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator, silence, speech
from tests.dispatch.loopback import Recorder
from tests.image_files import png
from tests.protocol.oracle import GA_CLIENT_EVENT, GA_SERVER_EVENT, assert_conforms, unknown_keys
from tests.support import TIMEOUT


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temp_c": 4}


@tool
def get_time(tz: str) -> str:
    """The time in a time zone."""
    return "noon"


SCENARIO = (
    Scenario()
    .on("weather").say("Let me check both.")
    .call("get_weather", city="Oslo").call("get_time", tz="CET").and_say("One moment.")
    .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees at {out['get_time']}.")
    .on("image").say("A red square.")
    .on("refund").say("billing")
    .on_audio().say("Once upon a time " + "there was a long story " * 20)
    .otherwise("Sure.")
)  # fmt: skip

AGENT = Agent(
    instructions="You are a helpful assistant.",
    tools=[get_weather, get_time],
    turn_detection=TurnDetection(idle_timeout_ms=1500),
    reasoning_effort="low",
    parallel_tool_calls=True,
    truncation="auto",
)
OPTIONS = SessionOptions(
    reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.05, max_seconds=TIMEOUT)
)


async def test_a_conversation_using_every_feature_is_valid_both_ways() -> None:
    async with Simulator(SCENARIO, stream_delay=0.002) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="gpt-realtime-2"), credential=sim.api_key)
        async with Session(AGENT, endpoint, options=OPTIONS) as session:
            t = Recorder(session)
            answer = await session.ask("What's the weather in Oslo?", timeout=TIMEOUT)
            assert answer.text == "It is 4 degrees at noon."
            assert [c.name for c in answer.tool_calls] == ["get_weather", "get_time"]

            await session.send_image(png(4, 4), text="What is in this image?")
            await t.wait_for(ResponseFinished, lambda e: e.text == "A red square.")

            # A spoken turn; the user talks over the long answer, and asks aside meanwhile.
            await session.send_audio(speech(600) + silence(600))
            await t.wait_for(ResponseStarted, count=4)
            await session.send_audio(speech(400))
            await t.wait_for(Interrupted)
            await session.send_audio(silence(600))
            await t.wait_for(ResponseStarted, count=5)
            side = await session.aside("Classify.", input=["refund"], timeout=TIMEOUT)
            assert side.text == "billing"
            await t.wait_for(AsideFinished)
            await t.wait_for(ResponseFinished, count=5)

            await session.send_audio(silence(2000))  # nobody speaks: an idle timeout
            await t.wait_for(InputTimeout)
            await sim.press_keys("42")
            await t.wait_for(DtmfReceived, count=2)

            await sim.close_connections(1011, "dropped")
            await t.wait_for(Reconnected)
            again = await session.ask("And the weather now?", timeout=TIMEOUT)
            assert again.text == "It is 4 degrees at noon."
            assert t.of(UsageUpdated) != []
    truncates = [
        e for c in sim.connections for e in c.received.of_type("conversation.item.truncate")
    ]
    assert truncates != []
    checked = 0
    for conn in sim.connections:
        for event in conn.sent.events:
            assert_server_event(event)
            checked += 1
        for event in conn.received.events:
            assert_conforms(json.dumps(event), GA_CLIENT_EVENT)
            checked += 1
    sent_types = {e["type"] for c in sim.connections for e in c.sent.events}
    for expected in (
        "response.output_audio.delta",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "conversation.item.truncated",
        "response.function_call_arguments.done",
    ):
        assert expected in sent_types, expected
    assert checked > 200


# The service's session object carries these, though the SDK types it as the request it echoes.
SESSION_IDENTITY = {"$.session.id", "$.session.object", "$.session.expires_at"}


def assert_server_event(event: dict[str, Any]) -> None:
    model = GA_SERVER_EVENT[event["type"]].model_validate_json(json.dumps(event), strict=True)
    assert set(unknown_keys(model)) <= SESSION_IDENTITY, (event["type"], unknown_keys(model))
    if not event["type"].startswith("session."):
        assert_conforms(json.dumps(event), GA_SERVER_EVENT)
