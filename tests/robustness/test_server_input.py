"""Hostile or broken server input: each is reported where it matters and the session goes on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agentkit import SessionOptions
from agentkit.events import ResponseStarted
from agentkit.testing import Scenario
from tests.robustness.helpers import ask, connected, errors, final_text
from tests.support import TIMEOUT

SCENARIO = Scenario().on("hello").say("Hi there.")

MALFORMED: dict[str, str | bytes] = {
    "not json": "this is not json",
    "truncated frame": '{"type": "response.done", "response": {"id": "r',
    "binary frame": b"\x00\x01\x02binary",
    "json array": "[1, 2, 3]",
    "type not a string": '{"type": 42}',
    "known type missing its fields": '{"type": "response.created"}',
    "deeply nested": "[" * 5000 + "]" * 5000,
}

ODD_BUT_VALID: dict[str, dict[str, Any]] = {
    "unknown event type": {"type": "response.brand_new_thing", "payload": {"x": 1}},
    "delta for an unknown item": {
        "type": "response.output_text.delta",
        "response_id": "resp_nobody",
        "item_id": "item_nobody",
        "output_index": 0,
        "content_index": 0,
        "delta": "boo",
    },
    "done for an unknown response": {
        "type": "response.done",
        "response": {"id": "resp_nobody", "status": "completed", "output": []},
    },
    "audio delta with wrong field types": {
        "type": "response.output_audio.delta",
        "response_id": 7,
        "item_id": None,
        "delta": "AAAA",
    },
    "call item for an unknown response": {
        "type": "response.output_item.done",
        "response_id": "resp_nobody",
        "output_index": 0,
        "item": {
            "id": "item_x",
            "type": "function_call",
            "call_id": "call_x",
            "name": "nope",
            "arguments": "{}",
            "status": "completed",
        },
    },  # fmt: skip
    "absurdly large unknown event": {"type": "x.large", "blob": "A" * 5_000_000},
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=list(MALFORMED))
async def test_malformed_frames_are_reported_once_and_the_session_goes_on(
    frame: str | bytes,
) -> None:
    async with connected(SCENARIO) as (sim, session):
        await sim.inject(frame)
        events = await ask(session, "hello")
    assert final_text(events) == "Hi there."
    reported = [e for e in errors(events) if e.code == "protocol_error"]
    assert len(reported) == 1


@pytest.mark.parametrize("event", ODD_BUT_VALID.values(), ids=list(ODD_BUT_VALID))
async def test_odd_events_do_not_break_the_conversation(event: dict[str, Any]) -> None:
    async with connected(SCENARIO) as (sim, session):
        await sim.inject(event)
        events = await ask(session, "hello")
        again = await ask(session, "hello")
    assert final_text(events) == "Hi there."
    assert final_text(again) == "Hi there."
    assert not [e for e in errors(events + again) if e.code == "internal_error"]


async def test_duplicated_events_are_harmless() -> None:
    async with connected(SCENARIO) as (sim, session):
        first = await ask(session, "hello")
        last_done = [
            e for e in sim.connections[0].sent if e["type"] in ("response.done", "response.created")
        ]
        for event in last_done:
            await sim.inject(json.dumps(event))
        again = await ask(session, "hello")
    assert final_text(first) == final_text(again) == "Hi there."
    assert session.state.active_response_id is None


async def test_a_duplicated_response_created_does_not_block_the_next_turn() -> None:
    async with connected(SCENARIO) as (sim, session):
        await ask(session, "hello")
        (created,) = [e for e in sim.connections[0].sent if e["type"] == "response.created"]
        await sim.inject(json.dumps(created))
        again = await ask(session, "hello")
    assert final_text(again) == "Hi there."


async def test_a_ghost_response_is_given_up_after_the_stale_limit() -> None:
    ghost = {"type": "response.created", "response": {"id": "resp_ghost", "status": "in_progress"}}
    options = SessionOptions(stale_response_after=0.2)
    async with connected(SCENARIO, options=options) as (sim, session):
        await sim.inject(ghost)
        started = await session.wait_for(ResponseStarted, TIMEOUT)  # the ghost is in first
        assert started.response_id == "resp_ghost"
        events = await ask(session, "hello")
    assert final_text(events) == "Hi there."
    assert [e.code for e in errors(events)] == ["stale_response"]


async def test_the_stale_response_watchdog_runs_only_while_a_response_is_active() -> None:
    """An idle session holds no timer (thousands of idle sessions cost the loop nothing)."""
    options = SessionOptions(stale_response_after=0.2)
    async with connected(SCENARIO, options=options) as (_, session):
        assert session._stale_timer is None
        await ask(session, "hello")
        await asyncio.sleep(0.4)  # armed by the response; fired at the limit, found it over
        assert session._stale_timer is None
