"""Function calls over a real WebSocket to the simulator: results, errors, rounds, concurrency."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from agentkit.agent import Agent
from agentkit.events import ErrorOccurred, ResponseFinished, ToolCallFinished, ToolCallStarted
from agentkit.session import SessionOptions
from agentkit.testing import Scenario
from agentkit.tools import ToolContext, tool
from tests.dispatch.loopback import live
from tests.support import TIMEOUT


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: the city name.
    """
    return {"temp_c": 4, "city": city}


def text_agent(*tools: Any) -> Agent:
    return Agent(instructions="Help.", tools=list(tools), modality="text")


def error_of(output: str) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(output)["error"]
    return error


def weather_reply(out: Any) -> str:
    value = out["get_weather"]
    if isinstance(value, dict) and "temp_c" in value:
        return f"It is {value['temp_c']} degrees in {value['city']}."
    return f"The weather service said: {value}"


WEATHER = (
    Scenario()
    .on("weather")
    .say("Let me check.")
    .call("get_weather", city="Oslo")
    .say(weather_reply)
    .on("thanks")
    .say("You are welcome.")
)


@pytest.mark.parametrize(
    "connect_options",
    [None, {"create_connection": ClientConnection}],
    ids=["listening", "pulling"],
)
async def test_one_call_round_trip_on_the_wire(connect_options: dict[str, Any] | None) -> None:
    """Frames handed over as parsed (agentkit's connection) or pulled with recv() (any other
    websockets connection class): the same conversation on the wire."""
    async with live(WEATHER, text_agent(get_weather), connect_options=connect_options) as t:
        await t.session.send_text("What is the weather in Oslo?")
        final = await t.events.wait_for(ResponseFinished, lambda e: "degrees" in e.text)
        assert final.text == "It is 4 degrees in Oslo."
        assert t.client_types() == [
            "session.update",
            "conversation.item.create",
            "response.create",
            "conversation.item.create",
            "response.create",
        ]
        (call,) = t.server_calls()
        assert json.loads(await t.output_for(call["call_id"])) == {"temp_c": 4, "city": "Oslo"}
        (started,) = t.events.of(ToolCallStarted)
        assert (started.call_id, started.name) == (call["call_id"], "get_weather")
        # The output follows the calling response.done; the response.create follows the output.
        order = [(side, e["type"]) for side, e in t.conn.exchange]
        done_at = order.index(("server", "response.done"))
        output_at = order.index(("client", "conversation.item.create"), done_at)
        assert order.index(("client", "response.create"), output_at) > output_at
        assert not t.events.of(ErrorOccurred)


async def test_tool_starts_before_response_done_and_its_output_waits_for_it() -> None:
    seen_active: list[str | None] = []

    @tool(name="get_weather")
    def weather(city: str, ctx: ToolContext) -> str:
        seen_active.append(ctx.session.state.active_response_id)
        return f"sunny in {city}"

    async with live(WEATHER, text_agent(weather)) as t:
        t.sim.faults.delay(0.3, "response.done")  # hold the calling response open
        await t.session.send_text("weather?")
        finished = await t.events.wait_for(ToolCallFinished)
        first_done = await t.events.wait_for(ResponseFinished)
        assert seen_active[0] is not None and seen_active[0] == first_done.response_id
        assert t.events.events.index(finished) < t.events.events.index(first_done)
        await t.events.wait_for(ResponseFinished, count=2)
        order = [(side, e["type"]) for side, e in t.conn.exchange]
        output_at = next(
            i
            for i, (side, e) in enumerate(t.conn.exchange)
            if side == "client" and e.get("item", {}).get("type") == "function_call_output"
        )
        assert output_at > order.index(("server", "response.done"))
        await t.assert_one_output_per_call()


class Tracker:
    def __init__(self, expected: int) -> None:
        self.running = 0
        self.peak = 0
        self.expected = expected
        self.all_in = asyncio.Event()
        self.started = 0

    async def run(self, value: str) -> str:
        self.running += 1
        self.started += 1
        self.peak = max(self.peak, self.running)
        if self.started == self.expected:
            self.all_in.set()
        try:
            # Wait (briefly) for the others: with room for all, they all get here together.
            await asyncio.wait_for(asyncio.shield(self.all_in.wait()), 0.3)
        except asyncio.TimeoutError:
            pass
        finally:
            self.running -= 1
        return value


def parallel_setup(tracker: Tracker) -> tuple[Scenario, Agent]:
    @tool
    async def flights(city: str) -> str:
        """Flights to a city."""
        return await tracker.run(f"3 flights to {city}")

    @tool
    async def hotels(city: str) -> str:
        """Hotels in a city."""
        return await tracker.run(f"5 hotels in {city}")

    scenario = (
        Scenario()
        .on("trip")
        .call("flights", city="Rome")
        .call("hotels", city="Rome")
        .call("flights", city="Oslo")
        .say(lambda out: f"Found {len(out.all)} answers.")
    )
    return scenario.scenario, text_agent(flights, hotels)


async def test_parallel_calls_run_concurrently_and_one_create_follows() -> None:
    tracker = Tracker(expected=3)
    scenario, agent = parallel_setup(tracker)
    async with live(scenario, agent) as t:
        await t.session.send_text("plan a trip")
        final = await t.events.wait_for(ResponseFinished, count=2)
        assert final.text == "Found 3 answers."
        assert tracker.peak == 3
        assert t.client_types() == [
            "session.update",
            "conversation.item.create",
            "response.create",
            "conversation.item.create",
            "conversation.item.create",
            "conversation.item.create",
            "response.create",
        ]
        outputs = {await t.output_for(c["call_id"]) for c in t.server_calls()}
        assert outputs == {"3 flights to Rome", "5 hotels in Rome", "3 flights to Oslo"}
        await t.assert_one_output_per_call()


async def test_max_concurrent_tools_bounds_running_calls() -> None:
    tracker = Tracker(expected=3)
    scenario, agent = parallel_setup(tracker)
    async with live(scenario, agent, options=SessionOptions(max_concurrent_tools=1)) as t:
        await t.session.send_text("plan a trip")
        final = await t.events.wait_for(ResponseFinished, count=2)
        assert final.text == "Found 3 answers."
        assert tracker.peak == 1 and tracker.started == 3
        assert len(t.client("response.create")) == 2
        await t.assert_one_output_per_call()


async def test_chained_calls_feed_each_other() -> None:
    @tool
    def find_city(landmark: str) -> str:
        """The city a landmark is in."""
        return {"Eiffel Tower": "Paris"}[landmark]

    scenario = (
        Scenario()
        .on("landmark")
        .call("find_city", landmark="Eiffel Tower")
        .then()
        .call("get_weather", lambda out: {"city": out["find_city"]})
        .say(lambda out: f"{out['get_weather']['city']}: {out['get_weather']['temp_c']} C.")
    )
    async with live(scenario, text_agent(find_city, get_weather)) as t:
        await t.session.send_text("weather at the landmark?")
        final = await t.events.wait_for(ResponseFinished, count=3)
        assert final.text == "Paris: 4 C."
        names = [e.name for e in t.events.of(ToolCallFinished)]
        assert names == ["find_city", "get_weather"]
        assert t.client_types().count("response.create") == 3
        assert [c["arguments"] for c in t.server_calls()][1] == '{"city": "Paris"}'
        await t.assert_one_output_per_call()


def forever(strict: bool) -> tuple[Scenario, Agent]:
    @tool
    def again(n: int) -> int:
        """Do it again."""
        return n

    scenario = Scenario(strict_tools=strict)
    turn = scenario.on("loop")
    for n in range(12):
        turn = turn.call("again", n=n).then()
    return scenario, text_agent(again)


async def quiet(t: Any) -> None:
    """A round trip: anything the session meant to send before it has been sent."""
    count = len(t.conn.sent.of_type("conversation.item.added"))
    await t.session.send_text("ping", respond=False)
    await t.wait_server("conversation.item.added", count + 1)


async def test_round_cap_ends_a_turn_that_calls_tools_forever() -> None:
    scenario, agent = forever(strict=True)
    async with live(scenario, agent, options=SessionOptions(max_tool_rounds=2)) as t:
        await t.session.send_text("loop")
        await t.events.wait_for(ResponseFinished, count=3)
        await quiet(t)
        creates = t.client("response.create")
        assert len(creates) == 3
        assert creates[1].get("response", {}).get("tool_choice") in (None, "auto")
        assert creates[2]["response"]["tool_choice"] == "none"
        assert len(t.server_calls()) == 2
        await t.assert_one_output_per_call()


async def test_round_cap_answers_calls_past_it_and_stops() -> None:
    scenario, agent = forever(strict=False)  # this "model" ignores tool_choice none
    async with live(scenario, agent, options=SessionOptions(max_tool_rounds=2)) as t:
        await t.session.send_text("loop")
        limited = await t.events.wait_for(ToolCallFinished, lambda e: e.error_type == "round_limit")
        await t.events.wait_for(ResponseFinished, count=3)
        await quiet(t)
        assert len(t.client("response.create")) == 3
        assert error_of(await t.output_for(limited.call_id))["type"] == "round_limit"
        assert len(t.server_calls()) == 3
        await t.assert_one_output_per_call()


# -- failures become outputs ------------------------------------------------------------------


async def test_tool_exception_becomes_an_output_and_the_session_goes_on() -> None:
    @tool(name="get_weather")
    def broken(city: str) -> str:
        raise ValueError(f"no station in {city}")

    async with live(WEATHER, text_agent(broken)) as t:
        await t.session.send_text("weather?")
        finished = await t.events.wait_for(ToolCallFinished)
        assert finished.is_error and finished.error_type == "tool_error"
        error = error_of(await t.output_for(finished.call_id))
        assert error["type"] == "tool_error" and "no station in Oslo" in error["message"]
        await t.events.wait_for(ResponseFinished, count=2)
        await t.session.send_text("thanks")
        final = await t.events.wait_for(ResponseFinished, count=3)
        assert final.text == "You are welcome."
        await t.assert_one_output_per_call()


async def test_timeouts_from_the_tool_and_from_the_session() -> None:
    cancelled: list[str] = []

    async def hang(name: str) -> str:
        try:
            await asyncio.sleep(TIMEOUT)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return "never"

    @tool(timeout=0.2)
    async def own_timeout() -> str:
        """Hangs."""
        return await hang("own")

    @tool
    async def session_timeout() -> str:
        """Hangs too."""
        return await hang("session")

    scenario = Scenario().on("go").call("own_timeout").call("session_timeout").say("Moving on.")
    options = SessionOptions(tool_timeout=0.3)
    async with live(scenario, text_agent(own_timeout, session_timeout), options=options) as t:
        await t.session.send_text("go")
        final = await t.events.wait_for(ResponseFinished, count=2)
        assert final.text == "Moving on."
        by_name = {e.name: e for e in t.events.of(ToolCallFinished)}
        assert {e.error_type for e in by_name.values()} == {"timeout"}
        assert "0.2 s" in error_of(await t.output_for(by_name["own_timeout"].call_id))["message"]
        assert (
            "0.3 s" in error_of(await t.output_for(by_name["session_timeout"].call_id))["message"]
        )
        assert sorted(cancelled) == ["own", "session"]
        await t.assert_one_output_per_call()


async def test_one_deadline_timing_out_leaves_calls_still_within_theirs_alone() -> None:
    """The session watches every running call with one timer: when it fires for one call,
    a call whose own deadline is later keeps running and answers normally."""

    @tool(timeout=0.15)
    async def hangs() -> str:
        """Never finishes."""
        await asyncio.sleep(TIMEOUT)
        return "never"

    @tool(timeout=2.0)
    async def slowish() -> str:
        """Finishes after the other call's deadline, well within its own."""
        await asyncio.sleep(0.4)
        return "done"

    scenario = Scenario().on("go").call("hangs").call("slowish").say("Moving on.")
    async with live(scenario, text_agent(hangs, slowish)) as t:
        await t.session.send_text("go")
        await t.events.wait_for(ResponseFinished, count=2)
        by_name = {e.name: e for e in t.events.of(ToolCallFinished)}
        assert by_name["hangs"].error_type == "timeout"
        assert not by_name["slowish"].is_error
        assert await t.output_for(by_name["slowish"].call_id) == "done"
        await t.assert_one_output_per_call()


async def test_unknown_tool_gets_an_output_naming_the_known_ones() -> None:
    scenario = Scenario(strict_tools=False).on("go").call("teleport", to="Mars").say("Sorry.")
    async with live(scenario, text_agent(get_weather)) as t:
        await t.session.send_text("go")
        final = await t.events.wait_for(ResponseFinished, count=2)
        assert final.text == "Sorry."
        (finished,) = t.events.of(ToolCallFinished)
        error = error_of(await t.output_for(finished.call_id))
        assert error["type"] == "unknown_tool"
        assert "teleport" in error["message"] and "get_weather" in error["message"]
        await t.assert_one_output_per_call()


async def test_invalid_arguments_get_outputs_the_model_can_act_on() -> None:
    calls: list[str] = []

    @tool(name="get_weather")
    def weather(city: str) -> str:
        calls.append(city)
        return "ok"

    scenario = (
        Scenario()
        .on("go")
        .call("get_weather", '{"city": ')
        .call("get_weather", {"town": "Oslo"})
        .call("get_weather", city="Oslo")
        .say("Done.")
    )
    async with live(scenario, text_agent(weather)) as t:
        await t.session.send_text("go")
        await t.events.wait_for(ResponseFinished, count=2)
        results = [e.error_type for e in t.events.of(ToolCallFinished)]
        assert Counter(results) == {"invalid_arguments": 2, None: 1}
        assert calls == ["Oslo"]
        bad = [e for e in t.events.of(ToolCallFinished) if e.is_error]
        for event in bad:
            assert error_of(await t.output_for(event.call_id))["type"] == "invalid_arguments"
        assert len(t.client("response.create")) == 2
        await t.assert_one_output_per_call()
