"""The delta fast path builds exactly what pydantic's model_construct builds."""

from __future__ import annotations

import json

import pytest

from agentkit.protocol import events as ev
from agentkit.protocol.codec import decode

DELTAS = {
    ev.ResponseAudioDelta: "response.output_audio.delta",
    ev.ResponseAudioTranscriptDelta: "response.output_audio_transcript.delta",
    ev.ResponseTextDelta: "response.output_text.delta",
    ev.FunctionCallArgumentsDelta: "response.function_call_arguments.delta",
}


@pytest.mark.parametrize("model", list(DELTAS))
def test_fast_path_equals_model_construct(model: type[ev.ResponseAudioDelta]) -> None:
    data = {
        "type": DELTAS[model],
        "event_id": "evt_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "delta": "AAAA",
    }
    fast = decode(json.dumps(data))
    reference = model.model_construct(**data)
    assert type(fast) is model
    assert fast == reference
    assert fast.model_dump() == reference.model_dump()
    assert fast.model_fields_set == reference.model_fields_set
    assert fast.model_extra == reference.model_extra


def test_extra_fields_still_land_in_model_extra() -> None:
    data = {"type": "response.output_text.delta", "response_id": "r", "delta": "x", "new": 1}
    event = decode(json.dumps(data))
    assert event.model_extra == {"new": 1}
