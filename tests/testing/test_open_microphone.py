"""An open microphone (a WebRTC call) streams silence between utterances: the simulator keeps
only what the next utterance may need, and still hears that utterance whole."""

from __future__ import annotations

import base64
from typing import Any

from agentkit.testing import Scenario, silence, speech
from agentkit.testing.audio import BYTES_PER_MS, to_base64
from agentkit.testing.state import MAX_SILENT_KEPT_MS, ConnectionState
from agentkit.testing.vad import ServerVad

SESSION = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}


def _append(state: ConnectionState, pcm: bytes) -> list[dict[str, Any]]:
    out = state.receive({"type": "input_audio_buffer.append", "audio": to_base64(pcm)})
    while (event := state.next_event()) is not None:
        out.append(event)
    return out


def test_silence_between_utterances_is_not_kept_and_the_next_one_is_heard_whole() -> None:
    state = ConnectionState("ga", "gpt-realtime", Scenario().on("hello").say("Hi."))
    state.open()
    state.receive({"type": "session.update", "session": SESSION})
    padding = ServerVad().prefix_padding_ms
    bound = 2 * (padding + MAX_SILENT_KEPT_MS) * BYTES_PER_MS
    for _ in range(600):  # a minute of open microphone, 100 ms at a time
        assert _append(state, silence(100)) == []
        assert len(state.audio_buffer) <= bound
    events = _append(state, speech(400) + silence(700))
    assert [e for e in events if e["type"] == "input_audio_buffer.committed"]
    (user,) = [i for i in state.conversation.items if i.get("role") == "user"]
    heard = base64.b64decode(user["content"][0]["audio"])
    assert speech(400) in heard  # the whole utterance
    assert len(heard) < bound
