"""Simulated input-audio transcription: events the SDK accepts, and spoken turns that match text."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from agentkit.testing import Scenario, silence, speech
from agentkit.testing.audio import to_base64
from agentkit.testing.state import ConnectionState

_GA: Any = pytest.importorskip("openai.types.realtime")
_PREVIEW: Any = pytest.importorskip("openai.types.beta.realtime")

TRANSCRIBED = {
    "ga": {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
    "preview": {"input_audio_transcription": {"model": "whisper-1"}},
}
PLAIN = {"ga": {"type": "realtime"}, "preview": {}}
UNION = {"ga": _GA.RealtimeServerEvent, "preview": _PREVIEW.RealtimeServerEvent}


def _speak(state: ConnectionState, update: dict[str, Any]) -> list[dict[str, Any]]:
    out = state.open()
    out += state.receive({"type": "session.update", "session": update})
    out += state.receive(
        {"type": "input_audio_buffer.append", "audio": to_base64(speech(400) + silence(700))}
    )
    while (event := state.next_event()) is not None:
        out.append(event)
    return out


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_transcription_events_follow_the_committed_item(dialect: Any) -> None:
    scenario = Scenario(heard=["what is the weather in Oslo"]).on("weather").say("Sunny.")
    events = _speak(ConnectionState(dialect, "gpt-realtime", scenario), TRANSCRIBED[dialect])
    kinds = [e["type"] for e in events]
    done = kinds.index("conversation.item.input_audio_transcription.completed")
    assert kinds.index("input_audio_buffer.committed") < done
    completed = events[done]
    assert completed["transcript"] == "what is the weather in Oslo"
    assert completed["usage"]["type"] == "duration" and completed["usage"]["seconds"] > 0
    adapter: TypeAdapter[Any] = TypeAdapter(UNION[dialect])
    for event in events:
        adapter.validate_python(event)
    answer = [e for e in events if e["type"] == "response.done"][-1]
    assert "Sunny." in str(answer)  # the spoken turn matched .on("weather") by its transcript


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_no_transcription_unless_the_client_asks(dialect: Any) -> None:
    scenario = Scenario(heard=["hello"]).on_audio().say("I heard you.")
    events = _speak(ConnectionState(dialect, "gpt-realtime", scenario), PLAIN[dialect])
    assert not [e for e in events if "input_audio_transcription" in e["type"]]


def test_utterances_are_heard_in_order_and_the_last_repeats() -> None:
    scenario = Scenario(heard=["one", "two"])
    assert [scenario.transcript(i, 500) for i in range(3)] == ["one", "two", "two"]
    assert Scenario().transcript(0, 1200) == "[1200 ms of speech]"
    assert Scenario(heard=lambda ms: f"{ms}").transcript(0, 42) == "42"
