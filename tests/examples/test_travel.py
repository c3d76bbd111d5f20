"""examples/travel.py: a chained call, then three calls in one response, run concurrently."""

from __future__ import annotations

import json

from agentkit.events import ToolCallFinished, ToolCallStarted, TranscriptDone
from tests.examples.helpers import ask, load_example, simulated_session

travel = load_example("travel")
travel.LATENCY_S = 0.05
TEXT = travel.agent.with_changes(modality="text", turn_detection=None)


async def test_chain_then_parallel_round() -> None:
    async with simulated_session(travel, agent=TEXT) as (session, sim):
        events = await ask(session, "Plan a weekend somewhere warm in March")
    calls = [e for e in events if isinstance(e, (ToolCallStarted, ToolCallFinished))]
    kinds = [(type(e).__name__[8:], e.name) for e in calls]
    assert kinds[:2] == [("Started", "find_destination"), ("Finished", "find_destination")]
    parallel = kinds[2:]
    assert [kind for kind, _ in parallel] == ["Started"] * 3 + ["Finished"] * 3  # all ran at once
    started = {e.name: json.loads(e.arguments) for e in calls[2:5]}
    assert started["get_climate"] == {"city": "Lisbon", "month": 3}  # chained from the 1st call
    assert started["search_flights"]["destination"] == "Lisbon"
    assert started["search_hotels"] == {"city": "Lisbon", "nights": 2}
    final = [e for e in events if isinstance(e, TranscriptDone)][-1].text
    assert final == (
        "Lisbon: about 19 degrees and sunny. Fly AK 205 for 98 EUR and stay at Casa Lisbon."
    )
    sent = [e["type"] for e in sim.received if e["type"] != "session.update"]
    # one response.create per round: the user's, after the chain step, after the parallel step
    assert sent.count("response.create") == 3
    assert sent[-4:] == ["conversation.item.create"] * 3 + ["response.create"]


async def test_two_calls_to_one_tool_in_one_response() -> None:
    async with simulated_session(travel, agent=TEXT) as (session, _):
        events = await ask(session, "Compare Lisbon and Rome")
    cities = [json.loads(e.arguments)["city"] for e in events if isinstance(e, ToolCallStarted)]
    assert cities == ["Lisbon", "Rome"]
    final = [e for e in events if isinstance(e, TranscriptDone)][-1].text
    assert final == "Lisbon 19 and Rome 17 degrees: Lisbon wins."
