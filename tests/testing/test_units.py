"""Sans-I/O tiers: scenario, VAD, session config, handshake routing, cassettes, conversation."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.testing import Cassette, ConnectionState, Scenario, silence, speech
from agentkit.testing import session_config as config
from agentkit.testing.audio import duration_ms, synthesize
from agentkit.testing.handshake import Refusal, Route, authorized, route
from agentkit.testing.ids import IdFactory
from agentkit.testing.scenario import PlannedCall, PlannedText
from agentkit.testing.vad import ServerVad
from tests.support import TIMEOUT
from tests.testing.helpers import TIME_TOOL, WEATHER_TOOL, user_text

TOOLS = [WEATHER_TOOL, TIME_TOOL]


def _user(text: str, item_id: str = "u1") -> dict[str, Any]:
    return {"id": item_id, **user_text(text)}


def _output(call: PlannedCall, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call.call_id, "output": output}


def test_scenario_matches_substring_regex_callable_and_default() -> None:
    scenario = (
        Scenario()
        .on("Weather").say("w")
        .on(re.compile(r"^\d+$")).say("n")
        .on(lambda text: text.endswith("?")).say("q")
        .otherwise(lambda text: f"default {text}")
    )  # fmt: skip
    ids = IdFactory()
    for text, expected in [
        ("the weather", "w"),
        ("42", "n"),
        ("why?", "q"),
        ("meh", "default meh"),
    ]:
        assert scenario.runner().plan([_user(text)], TOOLS, ids) == [PlannedText(expected)]


def test_parallel_calls_then_text_from_outputs() -> None:
    scenario = (
        Scenario()
        .on("weather").call("get_weather", city="Oslo").call("get_time")
        .say(lambda out: f"{out['get_weather']['temp_c']} at {out['get_time']} for {out.user_text}")
    )  # fmt: skip
    runner, ids = scenario.runner(), IdFactory()
    items: list[dict[str, Any]] = [_user("weather")]
    calls = runner.plan(items, TOOLS, ids)
    assert [c.name for c in calls if isinstance(c, PlannedCall)] == ["get_weather", "get_time"]
    assert isinstance(calls[0], PlannedCall) and json.loads(calls[0].arguments) == {"city": "Oslo"}
    items += [_output(calls[0], '{"temp_c": 4}'), _output(calls[1], "noon")]  # type: ignore[arg-type]
    assert runner.plan(items, TOOLS, ids) == [PlannedText("4 at noon for weather")]


def test_chained_calls_use_previous_outputs() -> None:
    scenario = (
        Scenario()
        .on("plan").call("get_weather", city="Oslo").then()
        .call("get_time", lambda out: {"zone": out["get_weather"]["zone"]})
        .say("done")
    )  # fmt: skip
    runner, ids = scenario.runner(), IdFactory()
    items: list[dict[str, Any]] = [_user("plan")]
    (first,) = runner.plan(items, TOOLS, ids)
    assert isinstance(first, PlannedCall)
    items.append(_output(first, '{"zone": "CET"}'))
    (second,) = runner.plan(items, TOOLS, ids)
    assert isinstance(second, PlannedCall) and json.loads(second.arguments) == {"zone": "CET"}
    items.append(_output(second, "12:00"))
    assert runner.plan(items, TOOLS, ids) == [PlannedText("done")]


def test_undeclared_tool_is_not_called_and_asking_again_advances() -> None:
    runner, ids = (
        Scenario().on("x").call("get_weather").on("y").say("one").say("two").runner(),
        IdFactory(),
    )
    (refused,) = runner.plan([_user("x")], [], ids)
    assert isinstance(refused, PlannedText) and "undeclared tool 'get_weather'" in refused.text
    assert runner.plan([_user("y", "u2")], [], ids) == [PlannedText("one")]
    assert runner.plan([_user("y", "u2")], [], ids) == [PlannedText("two")]


def test_vad_reports_speech_boundaries() -> None:
    vad = ServerVad(prefix_padding_ms=100, silence_duration_ms=200)
    events = vad.feed(silence(300) + speech(500) + silence(300))
    assert [(e.kind, e.audio_ms) for e in events] == [("started", 200), ("stopped", 800)]
    assert vad.feed(silence(1000)) == []


@given(st.text(max_size=200))
def test_synthesized_audio_scales_with_transcript(text: str) -> None:
    assert duration_ms(synthesize(text)) == max(1, len(text)) * 40


@pytest.mark.parametrize(
    ("dialect", "update", "code", "param"),
    [
        ("ga", {"instructions": "x"}, "missing_required_parameter", "session.type"),
        (
            "ga",
            {"type": "realtime", "modalities": ["text"]},
            "unknown_parameter",
            "session.modalities",
        ),
        (
            "ga",
            {"type": "realtime", "turn_detection": None},
            "unknown_parameter",
            "session.turn_detection",
        ),
        (
            "ga",
            {"type": "realtime", "temperature": 0.8},
            "unknown_parameter",
            "session.temperature",
        ),
        (
            "ga",
            {"type": "realtime", "audio": {"input": {"voice": "x"}}},
            "unknown_parameter",
            "session.audio.input.voice",
        ),
        (
            "ga",
            {"type": "realtime", "output_modalities": ["text", "audio"]},
            "invalid_value",
            "session.output_modalities",
        ),
        (
            "preview",
            {"output_modalities": ["text"]},
            "unknown_parameter",
            "session.output_modalities",
        ),
        ("preview", {"audio": {}}, "unknown_parameter", "session.audio"),
        ("preview", {"temperature": 2.0}, "invalid_value", "session.temperature"),
    ],
)
def test_session_update_rejections(
    dialect: Any, update: dict[str, Any], code: str, param: str
) -> None:
    current = config.default_session(dialect, "m", "sess_1", 0)
    problem = config.validate_update(update, current, dialect)
    assert problem is not None and (problem.code, problem.param) == (code, param)


def test_session_merge_keeps_untouched_fields_and_clears_with_null() -> None:
    current = config.default_session("ga", "m", "sess_1", 0)
    update = {
        "type": "realtime",
        "audio": {"input": {"turn_detection": None}, "output": {"voice": "marin"}},
    }
    merged = config.merge_update(current, update)
    assert config.turn_detection(merged, "ga") is None
    assert merged["audio"]["output"] == {**current["audio"]["output"], "voice": "marin"}
    assert merged["audio"]["input"]["format"] == current["audio"]["input"]["format"]


@pytest.mark.parametrize(
    ("target", "headers", "expected"),
    [
        ("/openai/v1/realtime?model=m", {}, Route("ga", "m")),
        ("/openai/realtime?api-version=v&deployment=d", {}, Route("preview", "d")),
        ("/v1/realtime?model=m", {"openai-beta": "realtime=v1"}, Route("preview", "m")),
        ("/openai/v1/realtime?model=m&api-version=v", {}, Refusal(401, "")),
        ("/openai/realtime?deployment=d", {}, Refusal(400, "")),
        ("/other", {}, Refusal(404, "")),
    ],
)
def test_routes(target: str, headers: dict[str, str], expected: Route | Refusal) -> None:
    decided = route(target, headers)
    if isinstance(expected, Refusal):
        assert isinstance(decided, Refusal) and decided.status == expected.status
    else:
        assert decided == expected


def test_authorization_sources() -> None:
    assert authorized("/p?api-key=k", {}, {"k"})
    assert authorized("/p", {"api-key": "k"}, {"k"})
    assert authorized("/p", {"authorization": "Bearer k"}, {"k"})
    assert not authorized("/p", {"authorization": "Basic k"}, {"k"})
    assert authorized("/p", {"authorization": "Bearer tok"}, {"k"}, lambda t: t == "tok")
    assert not authorized("/p", {}, {"k"}, lambda t: True)


def test_conversation_ordering_truncate_and_retrieve() -> None:
    state = ConnectionState("ga", "m", Scenario().on_any().say("hello there"))
    state.open()
    state.receive({"type": "conversation.item.create", "item": {"id": "a", **user_text("1")}})
    state.receive(
        {
            "type": "conversation.item.create",
            "item": {"id": "b", **user_text("2")},
            "previous_item_id": "root",
        }
    )
    added = state.receive(
        {
            "type": "conversation.item.create",
            "item": {"id": "c", **user_text("3")},
            "previous_item_id": "b",
        }
    )
    assert added[0]["previous_item_id"] == "b"
    assert [i["id"] for i in state.conversation.items] == ["b", "c", "a"]
    missing = state.receive(
        {"type": "conversation.item.create", "item": user_text("4"), "previous_item_id": "zz"}
    )
    assert missing[0]["error"]["param"] == "previous_item_id"
    state.receive({"type": "response.create"})
    while state.next_event() is not None:
        pass
    reply = state.conversation.items[-1]
    too_far = state.receive(
        {
            "type": "conversation.item.truncate",
            "item_id": reply["id"],
            "content_index": 0,
            "audio_end_ms": 10**6,
        }
    )
    assert too_far[0]["error"]["param"] == "audio_end_ms"
    cut = state.receive(
        {
            "type": "conversation.item.truncate",
            "item_id": reply["id"],
            "content_index": 0,
            "audio_end_ms": 100,
        }
    )
    assert cut[0]["type"] == "conversation.item.truncated"
    retrieved = state.receive({"type": "conversation.item.retrieve", "item_id": reply["id"]})
    assert retrieved[0]["item"]["content"][0]["transcript"] == ""


def test_out_of_band_response_runs_beside_the_default_one() -> None:
    state = ConnectionState("ga", "m", Scenario().on_any().say("hi"))
    state.open()
    state.receive({"type": "conversation.item.create", "item": user_text("x")})
    state.receive({"type": "response.create"})
    overrides = {"conversation": "none", "metadata": {"k": "v"}, "output_modalities": ["text"]}
    oob = state.receive({"type": "response.create", "response": overrides})
    assert oob[0]["response"]["conversation_id"] is None and oob[0]["response"]["metadata"] == {
        "k": "v"
    }
    events = []
    while (event := state.next_event()) is not None:
        events.append(event)
    done = [e for e in events if e["type"] == "response.done"]
    assert len(done) == 2
    assert "response.output_text.done" in [e["type"] for e in events]
    assert len([i for i in state.conversation.items if i.get("role") == "assistant"]) == 1


def test_cassette_round_trip_and_errors(tmp_path: Path) -> None:
    cassette = Cassette.from_exchange(
        [("server", {"type": "session.created"}), ("client", {"type": "response.create"})]
    )
    path = tmp_path / "tape.jsonl"
    cassette.save(path)
    player = Cassette.load(path).player()
    assert [e["type"] for e in player.open()] == ["session.created"]
    assert player.waiting_for == "response.create"
    assert player.receive({"type": "response.create"}) == [] and player.finished
    with pytest.raises(ValueError, match="line 2"):
        Cassette.loads('{"type": "a"}\n[1]\n')


def test_standalone_prints_its_url(tmp_path: Path) -> None:
    scenario_file = tmp_path / "scenario.py"
    scenario_file.write_text(
        "from agentkit.testing import Scenario\nscenario = Scenario().on('hi').say('yo')\n"
    )
    command = [sys.executable, "-m", "agentkit.testing", "--scenario", str(scenario_file)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert re.fullmatch(r"ws://127\.0\.0\.1:\d+\n", first)
        finally:
            process.terminate()
            process.wait(TIMEOUT)


@pytest.mark.parametrize(
    ("dialect", "field"), [("ga", "modalities"), ("preview", "output_modalities")]
)
def test_response_overrides_of_the_other_dialect_are_refused(dialect: Any, field: str) -> None:
    state = ConnectionState(dialect, "m")
    state.open()
    (error,) = state.receive(
        {"type": "response.create", "event_id": "r", "response": {field: ["text"]}}
    )
    assert (error["error"]["code"], error["error"]["event_id"]) == ("unknown_parameter", "r")
    assert state.active is None


def test_a_scenario_that_raises_answers_with_the_error_instead_of_hanging() -> None:
    broken = (
        Scenario()
        .on("weather")
        .call("get_weather", city="Oslo")
        .say(lambda out: f"{out['get_weather']['no_such_key']}")
    )
    state = ConnectionState("ga", "gpt-realtime", broken)
    state.open()
    tools = {"type": "realtime", "tools": [WEATHER_TOOL], "output_modalities": ["text"]}
    state.receive({"type": "session.update", "session": tools})
    state.receive({"type": "conversation.item.create", "item": user_text("weather?")})
    events = state.receive({"type": "response.create"}) + _drain_all(state)
    call = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "{}"}
    state.receive({"type": "conversation.item.create", "item": output})
    events = state.receive({"type": "response.create"}) + _drain_all(state)
    done = [e for e in events if e["type"] == "response.done"][-1]
    assert "the scenario raised KeyError" in json.dumps(done)


def _drain_all(state: ConnectionState) -> list[dict[str, Any]]:
    out = []
    while (event := state.next_event()) is not None:
        out.append(event)
    return out
