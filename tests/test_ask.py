"""Session.ask: one user turn run to its final answer, over the real simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentkit import (
    Agent,
    AgentkitError,
    Answer,
    AnswerTimeoutError,
    ServerError,
    Session,
    SessionClosedError,
    SessionOptions,
    TokenPrices,
    TokenUsage,
    ToolCall,
    ToolResult,
    tool,
)
from agentkit.answer import _turns
from agentkit.events import (
    Event,
    ResponseFinished,
    SessionClosed,
    ToolCallFinished,
    UsageUpdated,
)
from agentkit.testing import Scenario
from tests.dispatch.loopback import live
from tests.support import TIMEOUT


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temp_c": 4}


WEATHER = (
    Scenario()
    .on("weather")
    .say("Let me check.")
    .call("get_weather", city="Oslo")
    .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees in Oslo.")
    .on("first")
    .say("one")
    .on("second")
    .say("two")
)
TEXT_AGENT = Agent(instructions="Help.", tools=[get_weather], modality="text")


async def test_the_answer_is_the_response_after_the_tool_round() -> None:
    async with live(WEATHER, TEXT_AGENT) as t:
        answer = await t.session.ask("weather in Oslo?", timeout=TIMEOUT)

        finished = t.events.of(ResponseFinished)
        assert [r.text for r in finished] == ["Let me check.", "It is 4 degrees in Oslo."]
        assert answer.text == "It is 4 degrees in Oslo."
        assert answer.status == "completed"
        assert answer.responses == tuple(finished)
        assert answer.response_ids == tuple(r.response_id for r in finished)
        (call,) = answer.tool_calls
        (told,) = t.events.of(ToolCallFinished)
        assert call == ToolCall(
            told.call_id,
            "get_weather",
            '{"city": "Oslo"}',
            '{"city":"Oslo","temp_c":4}',
            duration_s=told.duration_s,
        )
        usages = [r.usage for r in finished if r.usage is not None]
        assert len(usages) == 2
        assert answer.usage.responses == 2
        assert answer.usage.output_tokens == sum(u.output_tokens or 0 for u in usages)
        assert answer.usage.total_tokens == sum(u.total_tokens or 0 for u in usages)
        assert answer.usage.output_tokens > 0
        assert answer.cost is None  # no prices given


async def test_the_answer_prices_its_turn_with_the_sessions_prices() -> None:
    prices = TokenPrices(input_text=4.0, cached_input_text=0.4, output_text=16.0)
    async with live(WEATHER, TEXT_AGENT, options=SessionOptions(prices=prices)) as t:
        await t.session.ask("first", timeout=TIMEOUT)  # an earlier turn: not this answer's
        answer = await t.session.ask("weather in Oslo?", timeout=TIMEOUT)

        updates = t.events.of(UsageUpdated)[1:]
        assert [u.response_id for u in updates] == list(answer.response_ids)
        assert answer.usage == updates[0].usage + updates[1].usage
        costs = [u.cost for u in updates]
        assert all(cost is not None and cost > 0 for cost in costs)
        assert answer.cost == pytest.approx(sum(c for c in costs if c is not None))


@pytest.mark.parametrize("limit", [10_000, 3])
async def test_an_application_iterating_the_session_still_sees_every_event(limit: int) -> None:
    options = SessionOptions(max_buffered_events=limit)  # 3: the reader is often behind
    async with live(WEATHER, TEXT_AGENT, options=options) as t:
        iterated: list[Event] = []

        async def read_all() -> None:
            async for event in t.session:
                iterated.append(event)
                if isinstance(event, ResponseFinished) and t.session.idle:
                    return

        reader = asyncio.create_task(read_all())
        await asyncio.sleep(0)  # the reader waits on the session's events first
        answer = await t.session.ask("weather in Oslo?", timeout=TIMEOUT)
        await asyncio.wait_for(reader, TIMEOUT)

        start = t.events.events.index(next(e for e in t.events.events if e in iterated))
        assert iterated == t.events.events[start : start + len(iterated)]
        assert [e for e in iterated if isinstance(e, ResponseFinished)] == list(answer.responses)
        assert len([e for e in iterated if isinstance(e, ToolCallFinished)]) == 1


async def test_the_transcript_is_the_answer_of_an_audio_agent() -> None:
    agent = Agent(instructions="Help.", tools=[get_weather], turn_detection=None)  # audio out
    async with live(WEATHER, agent) as t:
        answer = await t.session.ask("weather in Oslo?", timeout=TIMEOUT)
        assert answer.text == "It is 4 degrees in Oslo."
        assert len(answer.tool_calls) == 1


async def test_a_turn_in_progress_ends_before_the_question_is_asked() -> None:
    async with live(WEATHER, TEXT_AGENT) as t:
        await t.session.send_text("first")
        answer = await t.session.ask("second", timeout=TIMEOUT)
        assert answer.text == "two"
        assert len(answer.responses) == 1
        assert [r.text for r in t.events.of(ResponseFinished)] == ["one", "two"]


async def test_concurrent_asks_take_turns() -> None:
    async with live(WEATHER, TEXT_AGENT) as t:
        first, second = await asyncio.gather(
            t.session.ask("first", timeout=TIMEOUT), t.session.ask("second", timeout=TIMEOUT)
        )
        assert (first.text, second.text) == ("one", "two")
        users = [
            e["item"]["content"][0]["text"]
            for e in t.client("conversation.item.create")
            if e["item"].get("role") == "user"
        ]
        assert users == ["first", "second"]


async def test_a_turn_that_ends_on_a_call_asking_for_no_response() -> None:
    @tool
    def hang_up() -> ToolResult:
        """End the call."""
        return ToolResult("bye", respond=False)

    scenario = Scenario().on("bye").say("Goodbye!").call("hang_up")
    agent = Agent(instructions="Help.", tools=[hang_up], modality="text")
    async with live(scenario, agent) as t:
        answer = await t.session.ask("bye now", timeout=TIMEOUT)
        assert answer.text == "Goodbye!"
        assert [c.name for c in answer.tool_calls] == ["hang_up"]
        assert len(answer.responses) == 1
        assert len(t.client("response.create")) == 1


async def test_no_answer_in_time_is_a_typed_timeout_and_the_turn_goes_on() -> None:
    gate = asyncio.Event()

    @tool
    async def slow() -> str:
        """Slow."""
        await asyncio.wait_for(gate.wait(), TIMEOUT)
        return "done"

    scenario = Scenario().on("slow").call("slow").say("Finished.")
    agent = Agent(instructions="Help.", tools=[slow], modality="text")
    async with live(scenario, agent) as t:
        handlers_before = {k: list(v) for k, v in t.session._handlers.items()}
        expected = r"no answer within 0.2 s \(responses finished: 1, tool calls: 0\)"
        with pytest.raises(AnswerTimeoutError, match=expected) as raised:
            await t.session.ask("slow please", timeout=0.2)
        assert isinstance(raised.value, AgentkitError)
        assert isinstance(raised.value, asyncio.TimeoutError)
        assert raised.value.timeout == 0.2
        assert t.session._handlers == handlers_before  # it stopped watching
        gate.set()
        final = await t.events.wait_for(ResponseFinished, lambda e: e.text == "Finished.")
        assert final.status == "completed"


async def test_a_session_closing_mid_turn_is_an_error_not_a_hang() -> None:
    gate = asyncio.Event()

    @tool
    async def slow() -> str:
        """Slow."""
        await asyncio.wait_for(gate.wait(), TIMEOUT)
        return "done"

    scenario = Scenario().on("slow").call("slow").say("Finished.")
    agent = Agent(instructions="Help.", tools=[slow], modality="text")
    async with live(scenario, agent) as t:
        asking = asyncio.create_task(t.session.ask("slow please", timeout=TIMEOUT))
        await t.events.wait_for(ResponseFinished)
        await t.session.close()
        with pytest.raises(SessionClosedError):
            await asyncio.wait_for(asking, TIMEOUT)
        assert t.events.of(SessionClosed)
        with pytest.raises(SessionClosedError):
            await t.session.ask("anything", timeout=TIMEOUT)


async def test_a_session_closing_while_an_earlier_turn_runs_is_an_error() -> None:
    gate = asyncio.Event()

    @tool
    async def slow() -> str:
        """Slow."""
        await asyncio.wait_for(gate.wait(), TIMEOUT)
        return "done"

    scenario = Scenario().on("slow").call("slow").say("Finished.").on("first").say("one")
    agent = Agent(instructions="Help.", tools=[slow], modality="text")
    async with live(scenario, agent) as t:
        await t.session.send_text("slow please")
        await t.events.wait_for(ResponseFinished)  # its call runs: the session is not idle
        asking = asyncio.create_task(t.session.ask("first", timeout=TIMEOUT))
        await asyncio.wait_for(_until_turn_taken(t.session), TIMEOUT)  # waits for the turn
        await t.session.close()
        with pytest.raises(SessionClosedError, match="closed by the application"):
            await asyncio.wait_for(asking, TIMEOUT)
        users = [e for e in t.client("conversation.item.create") if e["item"].get("role") == "user"]
        assert len(users) == 1  # "first" was never sent


async def test_a_refused_request_for_a_response_is_a_server_error() -> None:
    async with live(WEATHER, TEXT_AGENT) as t:
        t.sim.faults.delay(TIMEOUT / 10, "response.created")  # the refusal comes first
        asking = asyncio.create_task(t.session.ask("first", timeout=TIMEOUT))
        create = await t.wait_client("response.create")
        error = {"type": "invalid_request_error", "code": "bad_request", "message": "refused"}
        await t.sim.inject({"type": "error", "error": {**error, "event_id": create["event_id"]}})
        with pytest.raises(ServerError, match="refused") as raised:
            await asyncio.wait_for(asking, TIMEOUT)
        assert raised.value.code == "bad_request"


def test_an_answer_is_frozen() -> None:
    answer = Answer("x", "completed", (), TokenUsage(), None, ())
    with pytest.raises(AttributeError):
        answer.text = "y"  # type: ignore[misc]


async def _until_turn_taken(session: Session) -> None:
    """Until an ask holds the session's turn (it waits there for the earlier turn to end)."""
    while not ((lock := _turns.get(session)) and lock.locked()):  # noqa: ASYNC110 - no event
        await asyncio.sleep(0)
