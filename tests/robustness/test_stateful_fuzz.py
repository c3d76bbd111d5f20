"""A stateful fuzz of a live session: junk, drops and floods from the server, in a seeded random
order, with the session's promises checked after every step.

Each run drives one session against the simulator over real WebSockets. A step is one of:
a burst of junk frames, a dropped connection (close 1011 or 1001, or a TCP abort), a flood of
tool calls outside any response, or a clean tool round, which must complete with no help from
the application. After every step the checker asserts, on what the simulator received:

* no ``response.create`` reached the service while one of its responses was active;
* every ``function_call_output`` answers a call that the same connection's conversation holds
  (the server announced it, or the client replayed it), at most once per connection;
* no item id is created twice on one connection;
* every client frame validates strictly against the official SDK's client event types;
* what the session keeps (calls, unacknowledged outputs and input, history items and
  characters) stays under its stated bounds.

The suite runs a few short seeded runs. ``make fuzz`` runs longer ones (``AGENTKIT_FUZZ_RUNS``
and ``AGENTKIT_FUZZ_STEPS`` set how many and how long; ``AGENTKIT_FUZZ_SEED`` the first seed).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.events import Event, ResponseFinished
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator
from tests.dispatch.loopback import Recorder
from tests.protocol.oracle import GA_CLIENT_EVENT, assert_conforms
from tests.support import TIMEOUT

RUNS = int(os.environ.get("AGENTKIT_FUZZ_RUNS", "3"))
STEPS = int(os.environ.get("AGENTKIT_FUZZ_STEPS", "12"))
FIRST_SEED = int(os.environ.get("AGENTKIT_FUZZ_SEED", "20261202"))

ANSWER = "It is 4 degrees in Oslo."
HISTORY_ITEMS = 300
HISTORY_CHARS = 60_000
UNACKED = 1_000  # the state's bound on unacknowledged outputs and input

OPTIONS = SessionOptions(
    stale_response_after=0.5,  # stray response.created events from the junk are given up on
    max_history_items=HISTORY_ITEMS,
    max_history_chars=HISTORY_CHARS,
    max_tool_rounds=1_000,  # floods are many calls in one turn: the cap is tested elsewhere
    reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.05, max_attempts=30),
)


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temp_c": 4}


SCENARIO = (
    Scenario()
    .on("weather")
    .call("get_weather", city="Oslo")
    .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees in Oslo.")
)


# -- junk ------------------------------------------------------------------------------------


def junk_frame(rng: random.Random, sim: Simulator, tag: str) -> str | bytes:
    """One frame of junk: malformed, out of order, duplicated, or naming the client's ids."""
    recent = [e for e in sim.received if isinstance(e.get("event_id"), str)][-20:]
    sent = [e for c in sim.connections for e in c.sent.events][-40:]
    makers: list[Callable[[], Any]] = [
        lambda: rng.choice(["{", "null", "[]", '{"type": 5}', "\x00\xff", "{}" * 50]),
        lambda: rng.randbytes(rng.randint(0, 40)),
        lambda: {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1, "item_id": tag},
        lambda: {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2, "item_id": tag},
        lambda: {"type": "response.created", "response": {"id": f"resp_{tag}", "status": "x"}},
        lambda: {"type": "response.done", "response": {"id": f"resp_{tag}", "output": []}},
        lambda: error_naming(rng, recent),
        lambda: {"type": "conversation.item.added", "item": nameless_call(tag)},
        lambda: {"type": "conversation.item.added", "item": odd_message(tag)},
        lambda: rng.choice(sent) if sent else {"type": "made.up"},
        lambda: {"type": rng.choice(TYPES), rng.choice(FIELDS): rng.choice(VALUES)},
        lambda: {"type": "response.output_text.delta", "delta": "x" * 200_000},
        lambda: nested(rng.randint(50, 400)),
        lambda: stray_call(tag, completed=rng.random() < 0.5),
    ]
    frame = rng.choice(makers)()
    return frame if isinstance(frame, (str, bytes)) else json.dumps(frame)


TYPES = [
    "session.updated", "conversation.item.added", "conversation.item.done",
    "conversation.item.deleted", "conversation.item.truncated", "input_audio_buffer.committed",
    "response.output_item.added", "response.output_item.done", "response.content_part.added",
    "response.output_audio.delta", "response.function_call_arguments.done", "rate_limits.updated",
    "conversation.item.input_audio_transcription.completed", "made.up.event",
]  # fmt: skip
FIELDS = ["response", "item", "response_id", "item_id", "call_id", "delta", "status", "error"]
VALUES: list[Any] = [None, 0, -1, "", "x", [], {}, {"id": None}, {"type": None}, 1e308, True]


def error_naming(rng: random.Random, recent: list[dict[str, Any]]) -> dict[str, Any]:
    event_id = rng.choice(recent)["event_id"] if recent else "nothing"
    code = rng.choice(
        ["conversation_already_has_active_response", "response_cancel_not_active", "invalid_value"]
    )
    return {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": "junk",
            "event_id": event_id,
        },
    }


def nameless_call(tag: str) -> dict[str, Any]:
    return {"id": f"item_{tag}", "type": "function_call", "call_id": f"call_{tag}", "name": None,
            "arguments": "{}", "status": "completed"}  # fmt: skip


def odd_message(tag: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": "who am I"}]
    return {"id": f"item_{tag}", "type": "message", "role": "robot", "status": "completed",
            "content": content}  # fmt: skip


def stray_call(tag: str, *, completed: bool) -> dict[str, Any]:
    item = {"id": f"item_{tag}", "type": "function_call", "call_id": f"call_{tag}",
            "name": "get_weather", "arguments": '{"city": "Bergen"}',
            "status": "completed" if completed else "incomplete"}  # fmt: skip
    return {"type": "response.output_item.done", "response_id": f"resp_{tag}", "item": item}


def nested(depth: int) -> str:
    return '{"type": "conversation.item.added", "item": ' + "[" * depth + "]" * depth + "}"


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Run:
    sim: Simulator
    session: Session
    recorder: Recorder
    rng: random.Random
    injected_calls: set[str] = field(default_factory=set)
    answers: int = 0
    log: list[str] = field(default_factory=list)

    async def junk(self) -> None:
        for n in range(self.rng.randint(5, 60)):
            tag = f"j{len(self.log)}_{n}"
            frame = junk_frame(self.rng, self.sim, tag)
            self.note_calls(frame)
            await self.sim.inject(frame)

    async def drop(self) -> None:
        how = self.rng.choice(["1011", "1001", "abort"])
        updates = len([e for e in self.sim.received if e["type"] == "session.update"])
        if how == "abort":
            await self.sim.go_offline()
            await self.sim.go_online()
        else:
            await self.sim.close_connections(int(how), "fuzz")
        await self.sim.wait_for("session.update", count=updates + 1, timeout=TIMEOUT)

    async def flood(self) -> None:
        for n in range(self.rng.randint(50, 400)):
            frame = json.dumps(stray_call(f"f{len(self.log)}_{n}", completed=True))
            self.note_calls(frame)
            await self.sim.inject(frame)

    async def clean_round(self) -> None:
        """Ask the weather: the answer must come, with no help from the application."""
        self.answers += 1
        await self.session.send_text("What's the weather in Oslo?")

        def answered() -> bool | None:
            done = [e for e in self.recorder.of(ResponseFinished) if e.text == ANSWER]
            return True if len(done) >= self.answers else None

        await self.recorder.until(answered, timeout=TIMEOUT * 3)
        self.answers = len([e for e in self.recorder.of(ResponseFinished) if e.text == ANSWER])

    def note_calls(self, frame: str | bytes) -> None:
        if isinstance(frame, str) and '"call_id"' in frame:
            try:
                self.injected_calls.update(_call_ids(json.loads(frame)))
            except (ValueError, RecursionError):
                pass


def _call_ids(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("call_id"), str):
            found.add(value["call_id"])
        for element in value.values():
            found |= _call_ids(element)
    elif isinstance(value, list):
        for element in value:
            found |= _call_ids(element)
    return found


# -- the checks ---------------------------------------------------------------------------------


def check_wire(run: Run) -> None:
    for index, conn in enumerate(run.sim.connections):
        announced = set(run.injected_calls)
        for event in conn.sent.events:
            announced |= _call_ids(event)
        created_ids: Counter[str] = Counter()
        answered: Counter[str] = Counter()
        for event in conn.received.events:
            assert_conforms(json.dumps(event), GA_CLIENT_EVENT)
            if event["type"] != "conversation.item.create":
                continue
            item = event["item"]
            if "id" in item:
                created_ids[item["id"]] += 1
            if item["type"] == "function_call":
                announced.add(item["call_id"])
            elif item["type"] == "function_call_output":
                assert item["call_id"] in announced, (index, item["call_id"])
                answered[item["call_id"]] += 1
        assert [i for i, n in created_ids.items() if n > 1] == [], f"connection {index}"
        assert [c for c, n in answered.items() if n > 1] == [], f"connection {index}"
        busy = [
            e for e in conn.sent.of_type("error")
            if e["error"].get("code") == "conversation_already_has_active_response"
        ]  # fmt: skip
        assert busy == [], f"response.create while a response was active on connection {index}"


def check_memory(session: Session) -> None:
    state = session.state
    assert len(state.calls) <= UNACKED + OPTIONS.max_concurrent_tools
    assert len(state._unacked_outputs) <= UNACKED
    assert len(state._unacked_items) <= UNACKED
    assert len(state.history) <= HISTORY_ITEMS
    newest = max((len(e["text"]) for e in state.history.values()), default=0)
    assert state._log.chars <= HISTORY_CHARS + newest


async def drive(seed: int, steps: int) -> Run:
    rng = random.Random(seed)
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="m"), credential=sim.api_key)
        agent = Agent(instructions="x", tools=[get_weather], modality="text")
        async with Session(agent, endpoint, options=OPTIONS) as session:
            run = Run(sim, session, Recorder(session), rng)
            drain = asyncio.ensure_future(_drain(session))
            try:
                await run.clean_round()
                for step in range(steps):
                    action = rng.choices(
                        [run.junk, run.drop, run.flood, run.clean_round], weights=[5, 2, 1, 3]
                    )[0]
                    run.log.append(f"{step}: {action.__name__}")
                    await action()
                    if action is not run.clean_round:
                        await run.clean_round()  # after junk, a clean round completes by itself
                    check_wire(run)
                    check_memory(session)
            finally:
                drain.cancel()
            return run


async def _drain(session: Session) -> None:
    events: list[Event] = []
    async for event in session:
        events.append(event)
        del events[:-100]


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + RUNS))
async def test_a_hostile_server_never_stalls_the_session_nor_breaks_the_protocol(seed: int) -> None:
    run = await drive(seed, STEPS)
    assert run.answers >= 1
