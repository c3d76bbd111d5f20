"""The simulator's usage figures over real WebSockets: by modality, cached input on later
responses, and exactly the shapes of the official SDK's types for each dialect."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from agentkit.testing import Scenario, Simulator, speech
from agentkit.testing.audio import BYTES_PER_MS, to_base64
from agentkit.testing.response import IMAGE_TOKENS, InputTokens, count_input
from tests.support import TIMEOUT
from tests.testing.helpers import send, user_text

_GA: Any = pytest.importorskip("openai.types.realtime")
_PREVIEW: Any = pytest.importorskip("openai.types.beta.realtime")
from tests.protocol.oracle import _by_type, assert_conforms  # noqa: E402

GA_SERVER_EVENT = _by_type(_GA.RealtimeServerEvent)
PREVIEW_SERVER_EVENT = _by_type(_PREVIEW.RealtimeServerEvent)
KEY = {"api-key": "test-key"}
SCENARIO = (
    Scenario()
    .on("first")
    .say("One, two, three.")
    .on("second")
    .say("Four.")
    .on_audio()
    .say("I heard you.")
)


async def response_frames(ws: ClientConnection) -> tuple[list[dict[str, Any]], str]:
    """The events of one response, and its response.done exactly as sent."""
    events: list[dict[str, Any]] = []
    while True:
        frame = await asyncio.wait_for(ws.recv(decode=True), TIMEOUT)
        assert isinstance(frame, str)
        events.append(json.loads(frame))
        if events[-1]["type"] == "response.done":
            return events, frame


async def turn(ws: ClientConnection, text: str) -> tuple[list[dict[str, Any]], str]:
    await send(ws, "conversation.item.create", item=user_text(text))
    await send(ws, "response.create")
    return await response_frames(ws)


def usage_of(done_frame: str) -> dict[str, Any]:
    usage: dict[str, Any] = json.loads(done_frame)["response"]["usage"]
    details = usage["input_token_details"]
    assert usage["input_tokens"] == details["text_tokens"] + details["audio_tokens"] + details.get(
        "image_tokens", 0
    )
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    output = usage["output_token_details"]
    assert usage["output_tokens"] == output["text_tokens"] + output["audio_tokens"]
    return usage


async def open_ga(sim: Simulator, modalities: list[str]) -> ClientConnection:
    ws = await connect(f"{sim.url}/openai/v1/realtime?model=m", additional_headers=KEY)
    session = {"type": "realtime", "output_modalities": modalities, "audio": {
        "input": {"turn_detection": None}
    }}  # fmt: skip
    await send(ws, "session.update", session=session)
    while json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] != "session.updated":
        pass
    return ws


async def test_a_later_response_reads_part_of_its_input_from_the_cache() -> None:
    async with Simulator(SCENARIO) as sim:
        ws = await open_ga(sim, ["text"])
        async with ws:
            _, first = await turn(ws, "first")
            _, second = await turn(ws, "second")
        for frame in (first, second):
            assert_conforms(frame, GA_SERVER_EVENT)
        before, after = usage_of(first), usage_of(second)
        assert before["input_token_details"]["cached_tokens"] == 0
        details = after["input_token_details"]
        cached = details["cached_tokens_details"]
        assert details["cached_tokens"] == sum(cached.values()) > 0
        assert cached["audio_tokens"] == cached["image_tokens"] == 0
        # The cache holds what the first response read and wrote, not the new user message.
        assert before["input_tokens"] < cached["text_tokens"] < details["text_tokens"]
        assert after["output_token_details"] == {"text_tokens": 1, "audio_tokens": 0}


async def test_speech_in_and_audio_out_count_as_audio_tokens() -> None:
    async with Simulator(SCENARIO) as sim:
        ws = await open_ga(sim, ["audio"])
        async with ws:
            await send(ws, "input_audio_buffer.append", audio=to_base64(speech(1_500)))
            await send(ws, "input_audio_buffer.commit")
            await send(ws, "response.create")
            spoken, done = await response_frames(ws)
            _, later = await turn(ws, "second")
        assert_conforms(done, GA_SERVER_EVENT)
        assert_conforms(later, GA_SERVER_EVENT)
        usage = usage_of(done)
        assert usage["input_token_details"]["audio_tokens"] == 15  # 1.5 s, a token per 100 ms
        audio_bytes = sum(
            len(base64.b64decode(e["delta"]))
            for e in spoken
            if e["type"] == "response.output_audio.delta"
        )
        heard_ms = audio_bytes // BYTES_PER_MS
        assert audio_bytes and usage["output_token_details"]["audio_tokens"] == math.ceil(
            heard_ms / 50
        )
        assert usage["output_token_details"]["text_tokens"] > 0  # the transcript
        cached = usage_of(later)["input_token_details"]["cached_tokens_details"]
        # Cached: the user's speech and the assistant's audio of the first response.
        assert cached["audio_tokens"] == 15 + usage["output_token_details"]["audio_tokens"]


async def test_the_preview_dialect_reports_usage_in_its_own_shape() -> None:
    async with Simulator(SCENARIO) as sim:
        url = f"{sim.url}/openai/realtime?api-version=2025-04-01-preview&deployment=m"
        async with connect(url, additional_headers=KEY) as ws:
            await send(ws, "session.update", session={"modalities": ["text"]})
            _, first = await turn(ws, "first")
            _, second = await turn(ws, "second")
        for frame in (first, second):
            assert_conforms(frame, PREVIEW_SERVER_EVENT)
        details = usage_of(second)["input_token_details"]
        assert set(details) == {"text_tokens", "audio_tokens", "cached_tokens"}
        assert details["cached_tokens"] > 0


def test_images_count_a_fixed_number_of_tokens_and_not_their_bytes() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 40_000}
    with_image = {"id": "i1", "type": "message", "role": "user", "content": [image]}
    words = {"id": "i2", "type": "message", "role": "user", "content": [{"type": "input_text"}]}
    counted = count_input([with_image], "", {})
    assert counted.image == IMAGE_TOKENS and counted.cached == 0
    assert counted.text < count_input([words], "", {}).text + 10


def test_nothing_is_cached_before_a_response_produced_something() -> None:
    users = [{"id": f"u{i}", "type": "message", "role": "user", "content": []} for i in range(3)]
    assert count_input(users, "Be brief.", {}).cached == 0
    call = {"id": "c1", "type": "function_call", "call_id": "x", "name": "f", "arguments": "{}"}
    output = {"id": "o1", "type": "function_call_output", "call_id": "x", "output": "{}"}
    counted = count_input([*users, call, output], "Be brief.", {})
    prefix = count_input([*users, call], "Be brief.", {})
    assert counted.cached_text == prefix.text < counted.text
    assert counted == InputTokens(counted.text, 0, 0, prefix.text, 0, 0)
