"""Settings and events of today's realtime models over the simulator: reasoning effort, parallel
tool calls, truncation, reasoning items, idle timeouts and DTMF."""

from __future__ import annotations

import json

import pytest

from agentkit import Agent, ConfigurationError, Endpoint, ResponseOptions, Session
from agentkit.events import DtmfReceived, InputTimeout, ReasoningDone, ResponseFinished
from agentkit.protocol.config import Reasoning, RetentionRatio, TokenLimits, TurnDetection
from agentkit.testing import Scenario, Simulator
from agentkit.testing.audio import silence
from tests.dispatch.loopback import live
from tests.protocol.oracle import GA_CLIENT_EVENT, GA_SERVER_EVENT, assert_conforms

REASONING_AGENT = Agent(
    instructions="x",
    modality="text",
    reasoning_effort="high",
    parallel_tool_calls=True,
    truncation=RetentionRatio(
        retention_ratio=0.8, token_limits=TokenLimits(post_instructions=8000)
    ),
)


async def test_reasoning_settings_reach_the_service_in_the_sdk_shape() -> None:
    async with live(Scenario().on_any().say("Hi."), REASONING_AGENT) as t:
        (update,) = t.client("session.update")
        assert_conforms(json.dumps(update), GA_CLIENT_EVENT)
        session = update["session"]
        assert session["reasoning"] == {"effort": "high"}
        assert session["parallel_tool_calls"] is True
        assert session["truncation"] == {
            "type": "retention_ratio",
            "retention_ratio": 0.8,
            "token_limits": {"post_instructions": 8000},
        }
        assert t.session.server_config().reasoning == Reasoning(effort="high")


async def test_a_response_can_think_harder_than_the_session() -> None:
    async with live(Scenario().on_any().say("Hi."), REASONING_AGENT) as t:
        await t.session.create_response(ResponseOptions(reasoning=Reasoning(effort="xhigh")))
        create = await t.wait_client("response.create")
        assert_conforms(json.dumps(create), GA_CLIENT_EVENT)
        assert create["response"]["reasoning"] == {"effort": "xhigh"}


async def test_reasoning_settings_on_a_preview_endpoint_fail_before_connecting() -> None:
    async with Simulator(Scenario()) as sim:
        endpoint = Endpoint.custom(sim.preview_url(), credential=sim.api_key)
        with pytest.raises(ConfigurationError, match="parallel_tool_calls, reasoning, truncation"):
            Session(REASONING_AGENT, endpoint)
    assert sim.connections == []


async def test_reasoning_items_are_told_and_never_spoken() -> None:
    async with live(Scenario().on_any().say("Hi."), Agent(instructions="x", modality="text")) as t:
        reasoning = {
            "id": "item_r1", "type": "reasoning", "status": "completed",
            "summary": [{"type": "summary_text", "text": "The user greets me."}],
        }  # fmt: skip
        await t.sim.inject(
            {
                "type": "response.output_item.done",
                "response_id": "resp_r",
                "output_index": 0,
                "item": reasoning,
            }  # fmt: skip
        )
        event = await t.events.wait_for(ReasoningDone)
        assert (event.item_id, event.summary) == ("item_r1", "The user greets me.")
        await t.session.send_text("hello")
        finished = await t.events.wait_for(ResponseFinished)
        assert finished.text == "Hi."


async def test_idle_timeouts_and_keypad_presses_reach_the_application() -> None:
    async with live(Scenario().on_any().say("Hi."), Agent(instructions="x", modality="text")) as t:
        await t.sim.inject(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "event_id": "e1",
                "item_id": "item_s",
                "audio_start_ms": 1000,
                "audio_end_ms": 6000,
            }  # fmt: skip
        )
        await t.sim.inject(
            {"type": "input_audio_buffer.dtmf_event_received", "event": "#", "received_at": 17}
        )
        timeout = await t.events.wait_for(InputTimeout)
        assert (timeout.item_id, timeout.audio_start_ms, timeout.audio_end_ms) == (
            "item_s",
            1000,
            6000,
        )
        press = await t.events.wait_for(DtmfReceived)
        assert (press.key, press.received_at) == ("#", 17)


async def test_the_simulator_times_out_a_silent_user_and_answers() -> None:
    detection = TurnDetection(idle_timeout_ms=1000)
    agent = Agent(instructions="x", modality="text", turn_detection=detection)
    scenario = Scenario().on_audio().say("Are you still there?")
    async with live(scenario, agent) as t:
        (update,) = t.client("session.update")
        assert update["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 1000
        for _ in range(3):
            await t.session.send_audio(silence(500))
        timeout = await t.events.wait_for(InputTimeout)
        assert (timeout.audio_start_ms, timeout.audio_end_ms) == (0, 1000)
        finished = await t.events.wait_for(ResponseFinished)
        assert finished.text == "Are you still there?"
        (event,) = t.conn.sent.of_type("input_audio_buffer.timeout_triggered")
        assert_server_conforms(json.dumps(event))


async def test_the_simulator_sends_keypad_presses() -> None:
    async with live(Scenario(), Agent(instructions="x", modality="text")) as t:
        await t.sim.press_keys("12#")
        await t.events.wait_for(DtmfReceived, count=3)
        assert [e.key for e in t.events.of(DtmfReceived)] == ["1", "2", "#"]


def assert_server_conforms(frame: str) -> None:
    assert_conforms(frame, GA_SERVER_EVENT)
