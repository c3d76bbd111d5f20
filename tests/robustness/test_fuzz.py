"""Fuzzing a live session over the simulator: arbitrary frames, then it still answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit import Session, SessionOptions
from agentkit.events import Event, ResponseFinished
from agentkit.testing import Scenario
from tests.robustness.helpers import connected, errors
from tests.support import TIMEOUT

SCENARIO = Scenario().on("hello").say("Hi there.")
# Stray response.created events from the fuzz are given up on quickly.
FUZZ_OPTIONS = SessionOptions(stale_response_after=0.2)

KNOWN_TYPES = [
    "session.updated", "conversation.item.added", "conversation.item.done",
    "conversation.item.deleted", "conversation.item.truncated", "input_audio_buffer.committed",
    "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "response.created",
    "response.done", "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.output_text.delta", "response.output_audio.delta",
    "response.output_audio_transcript.done", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "rate_limits.updated", "error",
    "conversation.item.input_audio_transcription.completed", "made.up.event",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["response", "item", "response_id", "item_id", "call_id", "delta", "arguments", "error",
     "session", "output_index", "audio_end_ms", "status", "name", "output", "id", "type"]
)  # fmt: skip
events = st.builds(
    lambda kind, body: {"type": kind, **body},
    st.sampled_from(KNOWN_TYPES),
    st.dictionaries(fields, json_values, max_size=5),
)
frames = st.one_of(
    events.map(json.dumps),
    st.text(max_size=60),
    st.binary(max_size=60),
    json_values.map(json.dumps),
)


async def answered(session: Session, text: str, answer: str) -> list[Event]:
    """Events until ``answer`` is given (stray responses from the fuzz may come first)."""
    await session.send_text(text)
    seen: list[Event] = []

    async def collect() -> None:
        async for event in session:
            seen.append(event)
            if isinstance(event, ResponseFinished) and event.text == answer:
                return

    await asyncio.wait_for(collect(), TIMEOUT)
    return seen


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(frames, min_size=1, max_size=8))
def test_arbitrary_server_frames_never_stop_the_session(batch: list[Any]) -> None:
    async def scenario() -> None:
        async with connected(SCENARIO, options=FUZZ_OPTIONS) as (sim, session):
            for frame in batch:
                await sim.inject(frame)
            events = await answered(session, "hello", "Hi there.")
            internal = [e for e in errors(events) if e.code == "internal_error"]
            assert internal == [], internal
            assert not session.closed

    asyncio.run(scenario())
