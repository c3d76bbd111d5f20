"""The official openai client talks to the simulator; every event validates against its types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic import TypeAdapter

from agentkit.testing import Scenario, Simulator, silence, speech
from agentkit.testing.audio import to_base64
from agentkit.testing.state import ConnectionState
from tests.support import TIMEOUT
from tests.testing.helpers import TIME_TOOL, WEATHER_TOOL, user_text

_GA_TYPES: Any = pytest.importorskip("openai.types.realtime")
_PREVIEW_TYPES: Any = pytest.importorskip("openai.types.beta.realtime")
GA_EVENT: TypeAdapter[Any] = TypeAdapter(_GA_TYPES.RealtimeServerEvent)
PREVIEW_EVENT: TypeAdapter[Any] = TypeAdapter(_PREVIEW_TYPES.RealtimeServerEvent)
TOOLS: Any = [WEATHER_TOOL, TIME_TOOL]

SCENARIO = (
    Scenario()
    .on("weather")
    .say("Let me check.")
    .call("get_weather", city="Oslo")
    .call("get_time", tz="CET")
    .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees at {out['get_time']}.")
    .on_audio()
    .say("I heard you.")
)


async def test_openai_client_round_trip() -> None:
    async with Simulator(scenario=SCENARIO, api_key="sk-test") as sim:
        client = AsyncOpenAI(api_key="sk-test", websocket_base_url=f"{sim.url}/v1")
        async with client.realtime.connect(model="gpt-realtime") as connection:
            created = await connection.recv()
            assert created.type == "session.created"
            await connection.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "tools": TOOLS,
                }
            )
            calls = []
            await connection.conversation.item.create(item=user_text("Weather in Oslo?"))  # type: ignore[arg-type]
            await connection.response.create()
            async for event in connection:
                if event.type == "response.output_item.done" and event.item.type == "function_call":
                    calls.append(event.item)
                if event.type == "response.done":
                    assert event.response.status == "completed"
                    break
            assert [c.name for c in calls] == ["get_weather", "get_time"]
            outputs = {"get_weather": {"temp_c": 4}, "get_time": "noon"}
            for call in calls:
                await connection.conversation.item.create(
                    item={
                        "type": "function_call_output",
                        "call_id": str(call.call_id),
                        "output": json.dumps(outputs[call.name]),
                    }
                )
            await connection.response.create()
            text = ""
            async for event in connection:
                if event.type == "response.output_text.done":
                    text = event.text
                if event.type == "response.done":
                    break
        assert text == "It is 4 degrees at noon."
        assert [e["type"] for e in sim.received].count("response.create") == 2
        assert sim.connections[0].dialect == "ga"


def _drive(state: ConnectionState, tools_update: dict[str, Any]) -> list[dict[str, Any]]:
    """Every kind of server event the simulator sends, from one sans-I/O session."""
    out = state.open()
    out += state.receive({"type": "session.update", "event_id": "e1", "session": tools_update})
    out += state.receive({"type": "session.update", "event_id": "e2", "session": {"bogus": 1}})
    out += state.receive({"type": "conversation.item.create", "item": user_text("weather?")})
    out += state.receive({"type": "response.create"})
    out += _drain(state)
    calls = [
        e["item"]
        for e in out
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"
    ]
    for call in calls:
        item = {
            "type": "function_call_output",
            "call_id": call["call_id"],
            "output": '{"temp_c": 4}',
        }
        out += state.receive({"type": "conversation.item.create", "item": item})
    out += state.receive({"type": "response.create"})
    out += _drain(state)
    message = next(e["item"] for e in reversed(out) if e["type"] == "response.output_item.done")
    out += state.receive(
        {
            "type": "conversation.item.truncate",
            "item_id": message["id"],
            "content_index": 0,
            "audio_end_ms": 10,
        }
    )
    out += state.receive({"type": "conversation.item.retrieve", "item_id": message["id"]})
    out += state.receive({"type": "conversation.item.delete", "item_id": message["id"]})
    out += state.receive(
        {"type": "input_audio_buffer.append", "audio": to_base64(speech(300) + silence(300))}
    )
    out += [e for e in [state.next_event()] if e]  # part of the VAD response, then barge in
    out += state.receive({"type": "input_audio_buffer.append", "audio": to_base64(speech(300))})
    out += state.receive({"type": "input_audio_buffer.clear"})
    out += state.receive({"type": "response.cancel"})
    out += state.receive(
        {"type": "response.create", "response": {"conversation": "none", "metadata": {"k": "v"}}}
    )
    out += _drain(state)
    out += state.receive_text("{not json")
    out += state.expire(60)
    return [e for e in out if e is not None]


def _drain(state: ConnectionState) -> list[dict[str, Any]]:
    events = []
    while (event := state.next_event()) is not None:
        events.append(event)
    return events


@pytest.mark.parametrize(
    ("dialect", "adapter", "update"),
    [
        ("ga", GA_EVENT, {"type": "realtime", "tools": [WEATHER_TOOL, TIME_TOOL]}),
        (
            "ga",
            GA_EVENT,
            {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL, TIME_TOOL]},
        ),
        ("preview", PREVIEW_EVENT, {"tools": [WEATHER_TOOL, TIME_TOOL]}),
        ("preview", PREVIEW_EVENT, {"modalities": ["text"], "tools": [WEATHER_TOOL, TIME_TOOL]}),
    ],
)
def test_every_server_event_validates(
    dialect: Any, adapter: TypeAdapter[Any], update: dict[str, Any]
) -> None:
    events = _drive(ConnectionState(dialect, "gpt-realtime", SCENARIO), update)
    kinds = {e["type"] for e in events}
    assert {"response.done", "error", "input_audio_buffer.speech_started"} <= kinds
    spoken = "text" not in str(update.get("output_modalities", update.get("modalities")))
    assert ("conversation.item.truncated" in kinds) is spoken
    for event in events:
        adapter.validate_python(event)
    assert TIMEOUT > 0
