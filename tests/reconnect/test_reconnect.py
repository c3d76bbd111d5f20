"""Reconnection over real WebSockets against the simulator: a fault matrix plus give-up paths."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.errors import AuthenticationError, ConnectionClosedError, RateLimitedError
from agentkit.events import ResponseFinished
from agentkit.reconnect import ReconnectPolicy, is_retryable
from agentkit.state import HistoryItem
from agentkit.testing import Scenario, Simulator
from tests.support import TIMEOUT

runs: collections.Counter[tuple[str, str]] = collections.Counter()


@tool
async def get_weather(city: str) -> dict[str, int]:
    """Weather."""
    runs["get_weather", city] += 1
    return {"temp_c": 4 if city == "Oslo" else 14}


@tool
def find_city(q: str) -> dict[str, str]:
    """Find a city."""
    runs["find_city", q] += 1
    return {"name": "Oslo"}


SCENARIO = (
    Scenario()
    .on("plan").say("Looking.").call("find_city", q="north").call("get_weather", city="Paris")
    .then().call("get_weather", lambda out: {"city": out["find_city"]["name"]})
    .say(lambda out: f"FINAL: Oslo is {out['get_weather']['temp_c']} degrees.")
)  # fmt: skip
FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)


async def _run(drop: int | None, code: int | None = None) -> dict[str, Any]:
    runs.clear()
    async with Simulator(SCENARIO) as sim:
        if drop is not None:
            sim.faults.drop_after(drop, code=code)
        endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=sim.api_key)
        agent = Agent(instructions="x", tools=[get_weather, find_city], modality="text")
        async with Session(agent, endpoint, options=SessionOptions(reconnect=FAST)) as session:
            await session.send_text("plan my trip")
            final = await asyncio.wait_for(_final_answer(session), TIMEOUT)
            history = _canonical(session.history)
            outputs = [
                collections.Counter(
                    e["item"]["call_id"]
                    for e in c.received
                    if e["type"] == "conversation.item.create"
                    and e["item"]["type"] == "function_call_output"
                )
                for c in sim.connections
            ]
            served = sum(len(c.sent) for c in sim.connections) if drop is None else 0
        return {"final": final, "runs": dict(runs), "history": history, "outputs": outputs,
                "served": served}  # fmt: skip


async def _final_answer(session: Session) -> str:
    async for event in session:
        if isinstance(event, ResponseFinished) and "FINAL" in event.text and session.idle:
            return event.text
    return ""


def _canonical(history: list[HistoryItem]) -> list[Any]:
    """The conversation's content: every message, and every call with its output.

    A drop in the middle of a response makes the model regenerate that response, so within a
    turn the order of a regenerated message and the calls around it may differ from the
    uninterrupted run; what must match is the content: no message lost or doubled, each call
    made once with its output.
    """
    outputs = {h.call_id: h.output for h in history if h.type == "function_call_output"}
    content: list[Any] = []
    for entry in history:
        if entry.type == "function_call":
            content.append(("call", entry.name, entry.arguments, outputs.get(entry.call_id)))
        elif entry.type == "message":
            content.append((entry.role, entry.text))
    return sorted(content, key=repr)


_baseline: dict[str, Any] = {}


async def _base() -> dict[str, Any]:
    if not _baseline:
        _baseline.update(await _run(None))
    return _baseline


DROPS = range(1, 70)


async def test_the_matrix_covers_every_server_event() -> None:
    base = await _base()
    assert 0 < base["served"] < DROPS.stop
    assert len(base["history"]) == 6  # user, "Looking.", the three calls, the final answer


@pytest.mark.parametrize(
    ("drop", "code"), [(n, None) for n in DROPS] + [(n, 1011) for n in DROPS[::5]]
)
async def test_drop_after_every_server_event(drop: int, code: int | None) -> None:
    base = await _base()
    result = await _run(drop, code)
    assert result["final"] == "FINAL: Oslo is 4 degrees."
    assert result["runs"] == {
        ("find_city", "north"): 1, ("get_weather", "Paris"): 1, ("get_weather", "Oslo"): 1,
    }  # fmt: skip
    for per_connection in result["outputs"]:
        assert all(count == 1 for count in per_connection.values())
    assert result["history"] == base["history"]


def test_is_retryable() -> None:
    assert is_retryable(ConnectionClosedError(1006))
    assert is_retryable(OSError("refused"))
    assert not is_retryable(AuthenticationError(401, "bad key"))


def test_delay_honours_retry_after_and_caps_backoff() -> None:
    policy = ReconnectPolicy(initial_delay=0.1, max_delay=0.4)
    assert policy.delay(1, RateLimitedError(429, "slow down", retry_after=7)) == 7
    for attempt in range(1, 10):
        assert 0 <= policy.delay(attempt) <= 0.4
