"""Barge-in, dialects, modalities, agent changes, progress, a blocking tool, errors, shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from agentkit.agent import Agent
from agentkit.events import (
    AudioDelta,
    ErrorOccurred,
    Interrupted,
    ResponseFinished,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TranscriptDelta,
)
from agentkit.protocol.client_events import ConversationItemTruncate, ResponseCreate
from agentkit.session import SessionOptions
from agentkit.state import InterruptPolicy
from agentkit.testing import Scenario, speech
from agentkit.tools import ToolContext, tool
from tests.dispatch.loopback import live
from tests.support import TIMEOUT


async def gate_wait(gate: asyncio.Event) -> None:
    await asyncio.wait_for(gate.wait(), TIMEOUT)


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"temp_c": 4, "city": city}


# -- barge-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["finish", "cancel"])
async def test_barge_in_during_a_running_tool(policy: InterruptPolicy) -> None:
    gate = asyncio.Event()
    outcome: list[str] = []

    @tool
    async def slow_weather(city: str) -> str:
        """Slow weather."""
        try:
            await gate_wait(gate)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("finished")
        return f"4 degrees in {city}"

    scenario = (
        Scenario()
        .on("weather")
        .say("Let me look that up for you, one moment please.")
        .call("slow_weather", city="Oslo")
        .say("Here it is.")
        .on_audio()
        .say("Yes?")
    )
    agent = Agent(instructions="Help.", tools=[slow_weather])  # audio, server VAD
    options = SessionOptions(interrupt_policy=policy)
    async with live(scenario, agent, options=options) as t:
        await t.session.send_text("weather?")
        await t.events.wait_for(ResponseFinished)
        await t.events.wait_for(ToolCallStarted)
        await t.session.send_audio(speech(200))  # the user starts talking over the assistant
        interrupted = await t.events.wait_for(Interrupted)
        truncate = await t.wait_client("conversation.item.truncate")
        (spoken,) = [
            e["item"]
            for e in t.conn.sent.of_type("response.output_item.done")
            if e["item"]["type"] == "message"
        ]
        assert truncate["item_id"] == spoken["id"] == interrupted.item_id
        assert truncate["content_index"] == 0
        assert truncate["audio_end_ms"] == interrupted.audio_end_ms
        audio_ms = len(spoken["content"][0]["transcript"]) * 40  # the simulator's voice
        assert 0 <= truncate["audio_end_ms"] < audio_ms  # streamed faster than it was played
        truncated = await t.wait_server("conversation.item.truncated")
        assert truncated["audio_end_ms"] == truncate["audio_end_ms"]  # the service accepted it
        if policy == "finish":
            assert outcome == []
            gate.set()
        finished = await t.events.wait_for(ToolCallFinished)
        output = await t.output_for(finished.call_id)
        if policy == "finish":
            assert outcome == ["finished"] and output == "4 degrees in Oslo"
        else:
            assert outcome == ["cancelled"] and finished.error_type == "cancelled"
            assert json.loads(output)["error"]["type"] == "cancelled"
            # The user is still talking: no response.create goes out over them.
            count = len(t.conn.sent.of_type("conversation.item.added"))
            await t.session.send_text("(round trip)", respond=False)
            await t.wait_server("conversation.item.added", count + 1)
            assert len(t.client("response.create")) == 1
        assert not [e for e in t.events.of(ErrorOccurred)]
        await t.assert_one_output_per_call()


async def test_app_interrupt_cancels_the_response_and_truncates_its_audio() -> None:
    long_text = " ".join(["This is a long answer that keeps going."] * 6)
    scenario = Scenario().on("talk").say(long_text)
    agent = Agent(instructions="Talk.")
    async with live(scenario, agent, stream_delay=0.01) as t:
        await t.session.send_text("talk to me")
        first = await t.events.wait_for(AudioDelta)
        await t.session.interrupt()
        finished = await t.events.wait_for(ResponseFinished)
        assert finished.status == "cancelled" and finished.reason == "client_cancelled"
        (cancel,) = t.client("response.cancel")
        assert cancel["response_id"] == first.response_id
        (truncate,) = t.client("conversation.item.truncate")
        assert truncate["item_id"] == first.item_id
        total_ms = len(long_text) * 40
        assert 0 <= truncate["audio_end_ms"] < total_ms
        await t.wait_server("conversation.item.truncated")
        (interrupted,) = t.events.of(Interrupted)
        assert interrupted.response_id == first.response_id
        assert not t.events.of(ErrorOccurred)


# -- dialects and modalities ------------------------------------------------------------------


@pytest.mark.parametrize("preview", [False, True], ids=["ga", "preview"])
@pytest.mark.parametrize("modality", ["text", "audio"])
async def test_one_call_in_each_dialect_and_modality(preview: bool, modality: str) -> None:
    scenario = (
        Scenario()
        .on("weather")
        .say("Checking.")
        .call("get_weather", city="Oslo")
        .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees.")
    )
    agent = Agent(instructions="Help.", tools=[get_weather], modality=modality)  # type: ignore[arg-type]
    async with live(scenario, agent, preview=preview) as t:
        await t.session.send_text("weather?")
        final = await t.events.wait_for(ResponseFinished, count=2)
        assert final.text == "It is 4 degrees."
        update = t.client("session.update")[0]["session"]
        if preview:
            assert "type" not in update and update["modalities"][-1] == modality
            assert t.conn.sent.of_type(
                "response.text.delta" if modality == "text" else "response.audio.delta"
            )
        else:
            assert update["type"] == "realtime" and update["output_modalities"] == [modality]
        transcript = "".join(e.delta for e in t.events.of(TranscriptDelta))
        assert transcript == "Checking.It is 4 degrees."
        assert bool(t.events.of(AudioDelta)) == (modality == "audio")
        (call,) = t.server_calls()
        assert json.loads(await t.output_for(call["call_id"])) == {"temp_c": 4, "city": "Oslo"}
        assert not t.events.of(ErrorOccurred)


# -- agents and tools changing ----------------------------------------------------------------


@tool
def get_time(zone: str) -> str:
    """The time in a zone."""
    return f"12:00 in {zone}"


TIME = (
    Scenario().on("time").call("get_time", zone="UTC").say(lambda out: f"It is {out['get_time']}.")
)


async def test_tools_changed_mid_session() -> None:
    agent = Agent(instructions="Help.", tools=[get_weather], modality="text")
    async with live(TIME, agent) as t:
        await t.session.send_text("what time is it?")
        refused = await t.events.wait_for(ResponseFinished)
        assert "undeclared tool 'get_time'" in refused.text
        await t.session.update_agent(agent.with_changes(tools=[get_weather, get_time]))
        await t.wait_server("session.updated", 2)
        await t.session.send_text("and the time now?")
        final = await t.events.wait_for(ResponseFinished, count=3)
        assert final.text == "It is 12:00 in UTC."
        tools = [tool["name"] for tool in t.client("session.update")[1]["session"]["tools"]]
        assert tools == ["get_weather", "get_time"]
        await t.assert_one_output_per_call()


async def test_a_tool_hands_the_conversation_to_another_agent() -> None:
    billing = Agent(
        instructions="You do billing.", tools=[get_time], modality="text", name="billing"
    )

    @tool
    async def transfer(ctx: ToolContext) -> str:
        """Transfer to billing."""
        await ctx.session.update_agent(billing)
        return "transferred"

    scenario = (
        Scenario()
        .on("bill")
        .call("transfer")
        .then()
        .call("get_time", zone="CET")
        .say(lambda out: f"Billing here, it is {out['get_time']}.")
    )
    front = Agent(instructions="Front desk.", tools=[transfer], modality="text")
    async with live(scenario, front) as t:
        await t.session.send_text("my bill")
        final = await t.events.wait_for(ResponseFinished, count=3)
        assert final.text == "Billing here, it is 12:00 in CET."
        kinds = [
            e["type"] if e["type"] != "conversation.item.create" else e["item"]["type"]
            for e in t.conn.received
        ]
        handoff_at = kinds.index("session.update", 1)
        assert kinds[handoff_at + 1] == "function_call_output"
        assert t.client("session.update")[1]["session"]["instructions"] == "You do billing."
        assert t.session.agent is billing
        await t.assert_one_output_per_call()


# -- long-running tools -----------------------------------------------------------------------


async def test_progress_is_reported_and_spoken_without_overlapping_responses() -> None:
    spoken, resume = asyncio.Event(), asyncio.Event()

    @tool
    async def book(ctx: ToolContext) -> str:
        """Book a flight."""
        await gate_wait(spoken)
        await ctx.report_progress("searching fares")
        await gate_wait(resume)
        return "booked"

    scenario = Scenario().on("book").say("On it.").call("book").say("All booked.")
    agent = Agent(instructions="Help.", tools=[book], modality="text")
    async with live(scenario, agent) as t:
        await t.session.send_text("book me a flight")
        await t.events.wait_for(ResponseFinished)
        spoken.set()
        progress = await t.events.wait_for(ToolProgress)
        assert (progress.name, progress.message) == ("book", "searching fares")
        create = await t.wait_client("response.create", 2)
        assert "searching fares" in create["response"]["instructions"]
        assert create["response"]["tool_choice"] == "none"
        await t.events.wait_for(ResponseFinished, count=2)
        resume.set()
        final = await t.events.wait_for(ResponseFinished, count=3)
        assert final.text == "All booked."
        assert len(t.client("response.create")) == 3
        assert not t.events.of(ErrorOccurred)  # never a response.create while one was active
        await t.assert_one_output_per_call()


async def test_a_blocking_sync_tool_never_stalls_the_stream() -> None:
    release = threading.Event()

    @tool
    def blocking_lookup(city: str) -> str:
        """A lookup that blocks its thread."""
        release.wait(TIMEOUT)
        return f"found {city}"

    scenario = (
        Scenario()
        .on("lookup")
        .call("blocking_lookup", city="Oslo")
        .say("Done looking.")
        .on("hello")
        .say("Hello there, while the lookup runs I can still talk to you.")
    )
    agent = Agent(instructions="Help.", tools=[blocking_lookup])  # audio
    async with live(scenario, agent) as t:
        try:
            await t.session.send_text("lookup Oslo")
            started = await t.events.wait_for(ToolCallStarted)
            await t.events.wait_for(ResponseFinished)
            await t.session.send_text("hello")
            chat = await t.events.wait_for(ResponseFinished, lambda e: "Hello" in e.text)
            after = t.events.events[t.events.events.index(started) :]
            assert any(isinstance(e, AudioDelta) for e in after)
            assert any(isinstance(e, TranscriptDelta) for e in after)
            assert not t.events.of(ToolCallFinished)  # still blocked in its thread
        finally:
            release.set()
        finished = await t.events.wait_for(ToolCallFinished)
        assert finished.output == "found Oslo"
        assert t.events.events.index(chat) < t.events.events.index(finished)
        await t.assert_one_output_per_call()


# -- event ids, errors, the active-response race, shutdown ------------------------------------


async def test_every_client_event_has_an_event_id_and_errors_name_their_cause() -> None:
    async with live(TIME, Agent(tools=[get_time], modality="text")) as t:
        await t.session.send_text("time?")
        await t.events.wait_for(ResponseFinished, count=2)
        bad = ConversationItemTruncate(item_id="item_missing", audio_end_ms=0)
        await t.session.send_event(bad)
        error = await t.events.wait_for(ErrorOccurred)
        assert (error.event_id, error.caused_by, error.code) == (
            bad.event_id,
            "conversation.item.truncate",
            "invalid_value",
        )
        ids = [e.get("event_id") for e in t.conn.received]
        assert all(ids) and len(set(ids)) == len(ids)


async def test_already_active_response_is_recovered_without_losing_the_turn() -> None:
    scenario = Scenario().on_any().say("Hi.")
    async with live(scenario, Agent(instructions="Hi.", modality="text")) as t:
        await t.session.send_text("hello", respond=False)
        await t.session.send_event(ResponseCreate())  # a response the state does not know of
        await t.session.create_response()  # races it and is rejected
        rejected = await t.wait_server(
            "error",
            where=lambda e: e["error"]["code"] == "conversation_already_has_active_response",
        )
        await t.events.wait_for(ResponseFinished, count=2)
        creates = t.client("response.create")
        assert len(creates) == 3 and rejected["error"]["event_id"] == creates[1]["event_id"]
        assert not t.events.of(ErrorOccurred)  # benign: handled, not surfaced
        assert len(t.conn.sent.of_type("response.created")) == 2


async def test_closing_the_session_answers_running_calls() -> None:
    @tool
    async def forever(ctx: ToolContext) -> str:
        """Never returns."""
        await asyncio.sleep(TIMEOUT * 2)
        return "never"

    scenario = Scenario().on("go").call("forever").say("Done.")
    async with live(scenario, Agent(tools=[forever], modality="text")) as t:
        await t.session.send_text("go")
        started = await t.events.wait_for(ToolCallStarted)
        await t.events.wait_for(ResponseFinished)
        await t.session.close()
        await t.conn.wait_closed(TIMEOUT)
        output = json.loads(await t.output_for(started.call_id))
        assert output["error"]["type"] == "cancelled"
        assert "session closed" in output["error"]["message"]
        await t.assert_one_output_per_call()
