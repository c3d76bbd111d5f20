"""The simulator answers every client event the official SDK accepts, over a real WebSocket.

Each case is checked against the ``openai`` SDK's models first (strictly, no unknown key), then
sent to a fresh connection, followed by a probe. The simulator must answer the case (its
acknowledgement, or an ``error`` naming the case's ``event_id``), never with a ``server_error``,
and still be there to answer the probe: no 1011 close. agentkit's own client events, encoded in
both dialects, go through the same check.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from agentkit import Agent, Endpoint, Session, tool
from agentkit.protocol.codec import encode
from agentkit.protocol.dialects import Dialect
from agentkit.testing import Simulator, session_config
from agentkit.testing.audio import silence, to_base64
from tests.protocol.catalogue import client_events
from tests.protocol.oracle import GA_CLIENT_EVENT, PREVIEW_CLIENT_EVENT, sdk_model
from tests.testing.helpers import WEATHER_TOOL, recv_event, recv_until

KEY = {"api-key": "test-key"}
CASE_ID = "evt_case"
PROBE_ID = "evt_probe"
AUDIO = to_base64(silence(200))

ACKS: dict[str, set[str]] = {
    "session.update": {"session.updated"},
    "transcription_session.update": {"transcription_session.updated"},
    "input_audio_buffer.append": set(),  # the service answers an append with nothing
    "input_audio_buffer.commit": {"input_audio_buffer.committed"},
    "input_audio_buffer.clear": {"input_audio_buffer.cleared"},
    "output_audio_buffer.clear": {"output_audio_buffer.cleared"},
    "conversation.item.create": {"conversation.item.added", "conversation.item.created"},
    "conversation.item.retrieve": {"conversation.item.retrieved"},
    "conversation.item.truncate": {"conversation.item.truncated"},
    "conversation.item.delete": {"conversation.item.deleted"},
    "response.create": {"response.created"},
    "response.cancel": {"response.done"},
}

MCP_TOOL = {
    "type": "mcp",
    "server_label": "deepwiki",
    "server_url": "https://mcp.example.com/mcp",
    "allowed_tools": ["ask_question"],
    "require_approval": "never",
    "headers": {"X-Team": "agents"},
}
PCM = {"type": "audio/pcm", "rate": 24000}


def _ga_session(**fields: Any) -> dict[str, Any]:
    return {"type": "session.update", "session": {"type": "realtime", **fields}}


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item}


def _text(role: str, kind: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


GA_SESSION_UPDATES: dict[str, dict[str, Any]] = {
    "tool_choice_auto": _ga_session(tool_choice="auto"),
    "tool_choice_none": _ga_session(tool_choice="none"),
    "tool_choice_required": _ga_session(tool_choice="required", tools=[WEATHER_TOOL]),
    "tool_choice_function": _ga_session(
        tools=[WEATHER_TOOL], tool_choice={"type": "function", "name": "get_weather"}
    ),
    "tool_choice_mcp": _ga_session(
        tools=[MCP_TOOL], tool_choice={"type": "mcp", "server_label": "deepwiki"}
    ),
    "tool_choice_mcp_named": _ga_session(
        tools=[WEATHER_TOOL, MCP_TOOL],
        tool_choice={"type": "mcp", "server_label": "deepwiki", "name": "ask_question"},
    ),
    "mcp_tool_filters": _ga_session(
        tools=[
            {
                **MCP_TOOL,
                "allowed_tools": {"read_only": True, "tool_names": ["ask_question"]},
                "require_approval": {"never": {"tool_names": ["ask_question"]}},
            }
        ]
    ),
    "mcp_connector": _ga_session(
        tools=[
            {
                "type": "mcp",
                "server_label": "drive",
                "connector_id": "connector_googledrive",
                "authorization": "token",
            }
        ]
    ),
    "audio_everything": _ga_session(
        audio={
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": "x"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.6,
                    "prefix_padding_ms": 200,
                    "silence_duration_ms": 400,
                    "create_response": False,
                    "interrupt_response": False,
                    "idle_timeout_ms": 6000,
                },
            },
            "output": {"format": {"type": "audio/pcma"}, "voice": "marin", "speed": 1.2},
        }
    ),
    "semantic_vad": _ga_session(
        audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}
    ),
    "turn_detection_off": _ga_session(
        audio={"input": {"turn_detection": None, "noise_reduction": None, "format": PCM}}
    ),
    "text_only": _ga_session(output_modalities=["text"], instructions="Be brief."),
    "limits": _ga_session(max_output_tokens=4096, model="gpt-realtime"),
    "limits_inf": _ga_session(max_output_tokens="inf"),
    "tracing_auto": _ga_session(tracing="auto"),
    "tracing_object": _ga_session(
        tracing={"workflow_name": "support", "group_id": "g1", "metadata": {"team": "a"}}
    ),
    "tracing_off": _ga_session(tracing=None),
    "truncation_disabled": _ga_session(truncation="disabled"),
    "truncation_ratio": _ga_session(truncation={"type": "retention_ratio", "retention_ratio": 0.5}),
    "prompt": _ga_session(prompt={"id": "pmpt_1", "version": "2", "variables": {"city": "Oslo"}}),
    "include": _ga_session(include=["item.input_audio_transcription.logprobs"]),
    "transcription_session": {
        "type": "session.update",
        "session": {"type": "transcription", "audio": {"input": {"format": PCM}}},
    },
}

GA_OTHER_EVENTS: dict[str, dict[str, Any]] = {
    "append": {"type": "input_audio_buffer.append", "audio": AUDIO},
    "commit_empty": {"type": "input_audio_buffer.commit"},
    "clear": {"type": "input_audio_buffer.clear"},
    "output_clear": {"type": "output_audio_buffer.clear"},
    "item_user_text": _item(_text("user", "input_text", "Weather in Oslo?")),
    "item_user_audio_image": _item(
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_audio", "audio": AUDIO, "transcript": "hi"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ],
        }
    ),
    "item_system": _item(_text("system", "input_text", "The user is in Norway.")),
    "item_assistant": _item(_text("assistant", "output_text", "It is 4 degrees.")),
    "item_assistant_audio": _item(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "audio": AUDIO, "transcript": "hi"}],
        }
    ),
    "item_function_call": _item(
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}
    ),
    "item_function_output_unknown_call": _item(
        {"type": "function_call_output", "call_id": "call_404", "output": "{}"}
    ),
    "item_after_root": {**_item(_text("user", "input_text", "x")), "previous_item_id": "root"},
    "item_mcp_approval_response": _item(
        {
            "type": "mcp_approval_response",
            "id": "mcpa_1",
            "approval_request_id": "mcpr_1",
            "approve": True,
        }
    ),
    "item_mcp_list_tools": _item(
        {
            "type": "mcp_list_tools",
            "server_label": "deepwiki",
            "tools": [{"name": "ask_question", "input_schema": {"type": "object"}}],
        }
    ),
    "item_mcp_call": _item(
        {
            "type": "mcp_call",
            "id": "mcp_1",
            "server_label": "deepwiki",
            "name": "ask_question",
            "arguments": "{}",
        }
    ),
    "item_mcp_approval_request": _item(
        {
            "type": "mcp_approval_request",
            "id": "mcpr_2",
            "server_label": "deepwiki",
            "name": "ask_question",
            "arguments": "{}",
        }
    ),
    "retrieve_missing": {"type": "conversation.item.retrieve", "item_id": "item_404"},
    "delete_missing": {"type": "conversation.item.delete", "item_id": "item_404"},
    "truncate_missing": {
        "type": "conversation.item.truncate",
        "item_id": "item_404",
        "content_index": 0,
        "audio_end_ms": 10,
    },
    "response_plain": {"type": "response.create"},
    "response_everything": {
        "type": "response.create",
        "response": {
            "conversation": "none",
            "instructions": "Summarise.",
            "output_modalities": ["text"],
            "max_output_tokens": 64,
            "metadata": {"purpose": "summary"},
            "tools": [WEATHER_TOOL, {"type": "mcp", "server_label": "deepwiki"}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "input": [_text("user", "input_text", "Oslo?")],
            "audio": {"output": {"format": PCM, "voice": "alloy"}},
            "prompt": {"id": "pmpt_1"},
        },
    },
    "response_mcp_choice": {
        "type": "response.create",
        "response": {"tool_choice": {"type": "mcp", "server_label": "deepwiki"}},
    },
    "cancel_idle": {"type": "response.cancel"},
    "cancel_unknown": {"type": "response.cancel", "response_id": "resp_404"},
}

PREVIEW_EVENTS: dict[str, dict[str, Any]] = {
    "session_update": {
        "type": "session.update",
        "session": {
            "modalities": ["text", "audio"],
            "input_audio_format": "g711_ulaw",
            "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
            "tools": [WEATHER_TOOL],
            "tool_choice": "required",
            "temperature": 0.7,
            "max_response_output_tokens": "inf",
        },
    },
    "transcription_session_update": {
        "type": "transcription_session.update",
        "session": {"input_audio_transcription": {"model": "whisper-1"}},
    },
    "append": {"type": "input_audio_buffer.append", "audio": AUDIO},
    "commit_empty": {"type": "input_audio_buffer.commit"},
    "clear": {"type": "input_audio_buffer.clear"},
    "output_clear": {"type": "output_audio_buffer.clear"},
    "item_user": _item(_text("user", "input_text", "hi")),
    "item_assistant": _item(_text("assistant", "text", "hello")),
    "retrieve_missing": {"type": "conversation.item.retrieve", "item_id": "item_404"},
    "delete_missing": {"type": "conversation.item.delete", "item_id": "item_404"},
    "truncate_missing": {
        "type": "conversation.item.truncate",
        "item_id": "item_404",
        "content_index": 0,
        "audio_end_ms": 10,
    },
    "response_create": {
        "type": "response.create",
        "response": {"modalities": ["text"], "tool_choice": "none", "conversation": "none"},
    },
    "cancel_idle": {"type": "response.cancel"},
}


def _sdk_valid(event: dict[str, Any], union: dict[str, Any]) -> dict[str, Any]:
    """The case with its ``event_id``, after the SDK accepted it."""
    event = {**event, "event_id": CASE_ID}
    sdk_model(union[event["type"]], **event)
    return event


async def _answers(url: str, *frames: str) -> list[dict[str, Any]]:
    """Everything the simulator sent after ``frames`` until it answered the probe."""
    async with connect(url, additional_headers=KEY) as ws:
        await recv_until(ws, "conversation.created")
        for frame in frames:
            await ws.send(frame)
        probe = {"type": "conversation.item.retrieve", "item_id": "item_probe"}
        await ws.send(json.dumps({**probe, "event_id": PROBE_ID}))
        events: list[dict[str, Any]] = []
        while not events or not _errors_for(events[-1:], PROBE_ID):
            events.append(await recv_event(ws))
    return events


def _errors_for(events: list[dict[str, Any]], event_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "error" and e["error"].get("event_id") == event_id]


def _assert_answered(event: dict[str, Any], events: list[dict[str, Any]]) -> None:
    event_type = event["type"]
    server_errors = [e for e in events if e["type"] == "error" and e["error"]["type"] != (
        "invalid_request_error"
    )]  # fmt: skip
    assert server_errors == [], server_errors
    acknowledged = [e for e in events if e["type"] in ACKS[event_type]]
    refused = _errors_for(events, event["event_id"])
    if ACKS[event_type]:
        assert acknowledged or refused, [e["type"] for e in events]
    else:
        assert refused == [], refused


async def _check(url: str, frame: str) -> None:
    """The case is answered, and the probe after it too: the socket survived the case."""
    _assert_answered(json.loads(frame), await _answers(url, frame))


def test_the_catalogues_cover_every_client_event_type_of_the_sdk() -> None:
    ga_types = {event["type"] for event in {**GA_SESSION_UPDATES, **GA_OTHER_EVENTS}.values()}
    assert ga_types == set(GA_CLIENT_EVENT)
    assert {event["type"] for event in PREVIEW_EVENTS.values()} == set(PREVIEW_CLIENT_EVENT)
    assert set(GA_CLIENT_EVENT) | set(PREVIEW_CLIENT_EVENT) == set(ACKS)


@pytest.fixture
async def sim() -> Any:
    async with Simulator() as simulator:
        yield simulator


@pytest.mark.parametrize("name", [*GA_SESSION_UPDATES, *GA_OTHER_EVENTS])
async def test_every_sdk_valid_ga_event_is_answered(sim: Simulator, name: str) -> None:
    event = _sdk_valid({**GA_SESSION_UPDATES, **GA_OTHER_EVENTS}[name], GA_CLIENT_EVENT)
    await _check(sim.ga_url(), json.dumps(event))


@pytest.mark.parametrize("name", list(PREVIEW_EVENTS))
async def test_every_sdk_valid_preview_event_is_answered(sim: Simulator, name: str) -> None:
    event = _sdk_valid(PREVIEW_EVENTS[name], PREVIEW_CLIENT_EVENT)
    await _check(sim.preview_url(), json.dumps(event))


@pytest.mark.parametrize("dialect", [Dialect.GA, Dialect.PREVIEW])
@pytest.mark.parametrize("name", list(client_events()))
async def test_every_event_agentkit_sends_is_answered(
    sim: Simulator, dialect: Dialect, name: str
) -> None:
    frame = encode(client_events()[name], dialect)
    url = sim.ga_url() if dialect is Dialect.GA else sim.preview_url()
    await _check(url, frame)


async def test_a_session_update_with_a_function_tool_choice_is_applied(sim: Simulator) -> None:
    choice = {"type": "function", "name": "get_weather"}
    frame = json.dumps(_ga_session(tools=[WEATHER_TOOL], tool_choice=choice))
    updated = [e for e in await _answers(sim.ga_url(), frame) if e["type"] == "session.updated"]
    assert updated[0]["session"]["tool_choice"] == choice


async def test_a_new_tool_choice_object_replaces_the_old_one(sim: Simulator) -> None:
    async with connect(sim.ga_url(), additional_headers=KEY) as ws:
        await recv_until(ws, "conversation.created")
        first = _ga_session(tools=[WEATHER_TOOL], tool_choice={"type": "function", "name": "x"})
        await ws.send(json.dumps(first))
        await recv_until(ws, "session.updated")
        mcp = {"type": "mcp", "server_label": "deepwiki"}
        await ws.send(json.dumps(_ga_session(tool_choice=mcp)))
        updated = (await recv_until(ws, "session.updated"))[-1]
    assert updated["session"]["tool_choice"] == mcp


@pytest.mark.parametrize(
    ("choice", "param"),
    [
        ({"type": "function"}, "session.tool_choice.name"),
        ({"type": "mcp", "name": "x"}, "session.tool_choice.server_label"),
        ({"type": "file_search"}, "session.tool_choice.type"),
        (["auto"], "session.tool_choice"),
        ("sometimes", "session.tool_choice"),
    ],
)
async def test_a_malformed_tool_choice_is_refused_with_its_parameter(
    sim: Simulator, choice: object, param: str
) -> None:
    frame = json.dumps({**_ga_session(tool_choice=choice), "event_id": CASE_ID})
    (refusal,) = _errors_for(await _answers(sim.ga_url(), frame), CASE_ID)
    assert refusal["error"]["type"] == "invalid_request_error"
    assert refusal["error"]["param"] == param


async def test_a_failure_inside_the_simulator_costs_one_error_event_not_the_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the simulator")

    monkeypatch.setattr(session_config, "validate_update", broken)
    async with Simulator() as sim:
        frame = json.dumps({**_ga_session(instructions="x"), "event_id": CASE_ID})
        events = await _answers(sim.ga_url(), frame)
    (failure,) = _errors_for(events, CASE_ID)
    assert failure["error"]["type"] == "server_error"
    assert _errors_for(events, PROBE_ID), "the connection answered the next event too"
    assert sim.connections[0].close_code == 1000


@pytest.mark.parametrize(
    "choice",
    [{"type": "function", "name": "lookup"}, {"type": "mcp", "server_label": "deepwiki"}],
)
async def test_an_agent_with_an_object_tool_choice_starts_a_session(
    sim: Simulator, choice: dict[str, Any]
) -> None:
    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        return q

    agent = Agent(instructions="x", tools=[lookup], tool_choice=choice)
    endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
    async with Session(agent, endpoint) as session:
        assert session.server_session["tool_choice"] == choice  # accepted, not a 1011
