"""Restoring a session over real sockets: what a new connection is sent, and when to stop."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from agentkit import Agent, ConnectionClosedError, Endpoint, Session, SessionOptions, tool
from agentkit.events import ReconnectGaveUp, ResponseFinished, ToolProgress
from agentkit.protocol.client_events import RESUME_ITEM_PREFIX
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from agentkit.tools import ToolContext
from tests.dispatch.loopback import Recorder, live
from tests.support import TIMEOUT

FAST = ReconnectPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.02, max_seconds=TIMEOUT)


def _endpoint(sim: Simulator) -> Endpoint:
    return Endpoint.custom(sim.ga_url(model="m"), credential=sim.api_key)


def _created_ids(sim: Simulator, index: int) -> list[str]:
    return [
        e["item"]["id"]
        for e in sim.connections[index].received
        if e["type"] == "conversation.item.create" and "id" in e["item"]
    ]


async def test_a_session_whose_every_restore_drops_gives_up_with_a_clear_error() -> None:
    async with Simulator(Scenario().on_any().say("Hi.")) as sim:
        sim.faults.drop_after_event("session.created", code=1011, times=100)
        agent = Agent(instructions="x", modality="text")
        session = Session(agent, _endpoint(sim), options=SessionOptions(reconnect=FAST))
        gave_up: list[ReconnectGaveUp] = []
        session.on(ReconnectGaveUp, gave_up.append)
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(session.start(), TIMEOUT)
        await session.close()
    assert len(sim.connections) == 1 + FAST.max_attempts  # not a loop
    (event,) = gave_up
    assert "before the service accepted the restored session" in event.reason


async def test_a_drop_during_a_replay_sends_each_item_once_on_the_next_connection() -> None:
    scenario = Scenario().on("hello").say("Hi there.")
    async with Simulator(scenario) as sim:
        options = SessionOptions(reconnect=FAST)
        agent = Agent(instructions="x", modality="text")
        async with Session(agent, _endpoint(sim), options=options) as session:
            recorder = Recorder(session)
            await session.send_text("hello")
            await recorder.wait_for(ResponseFinished)
            # The next connection drops as soon as it has taken the configuration, before it
            # acknowledged any replayed item; the one after must get each item once.
            sim.faults.drop_after_event("session.updated", code=1011)
            await sim.close_connections(1011, "dropped")
            await sim.wait_for("session.update", count=3, timeout=TIMEOUT)
            await sim.connections[2].received.wait_for(
                "conversation.item.create", count=3, timeout=TIMEOUT
            )
    ids = _created_ids(sim, 2)
    assert [i for i, n in Counter(ids).items() if n > 1] == [], ids
    assert sum(i.startswith(RESUME_ITEM_PREFIX) for i in ids) == 1, ids
    (user_message,) = sim.connections[0].received.of_type("conversation.item.create")
    assert ids.count(user_message["item"]["id"]) == 1


@tool
async def long_search(ctx: ToolContext[None]) -> str:
    """Search for a long time, telling the user."""
    await ctx.report_progress("searching")
    await asyncio.sleep(TIMEOUT)
    return "found"


@pytest.mark.parametrize("done_delay", [0.0, 0.3], ids=["response-ended", "response-open"])
async def test_interrupt_under_cancel_policy_sends_no_follow_up(done_delay: float) -> None:
    """docs/sessions.md rule 7: the interrupted round asks for no follow-up response, whether
    the interruption reaches the response while it runs or just after it ended."""
    scenario = Scenario().on("search").call("long_search").say("Found it.")
    agent = Agent(instructions="x", tools=[long_search], modality="text")
    options = SessionOptions(interrupt_policy="cancel", speak_progress=False)
    async with live(scenario, agent, options=options) as t:
        # With response.done held back, the interruption comes while the response is open
        # for the client, though it already ended at the service (response_cancel_not_active).
        t.sim.faults.delay(done_delay, "response.done")
        await t.session.send_text("search please")
        await t.events.wait_for(ToolProgress)
        await t.session.interrupt()
        output = await t.output_for(t.server_calls()[0]["call_id"])
        assert "cancelled" in output
        await t.events.wait_for(ResponseFinished)
        with pytest.raises(TimeoutError):  # room for a wrong response.create to show up
            await t.sim.wait_for("response.create", count=2, timeout=TIMEOUT / 10)
        codes = [getattr(e, "code", None) for e in t.events.events]
        assert "response_cancel_not_active" not in codes
        assert t.session.idle
