"""Hypothesis drives a response with N calls through every interleaving it can find.

Server events (with duplicates), tool completions, output acknowledgements and, optionally, a
server-VAD response racing the follow-up all arrive in a generated order. Whatever the order:
every call starts once and gets exactly one output, one ``response.create`` follows the last
output and the calling ``response.done``, and none is sent while a response is active.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit.protocol import events as ev
from agentkit.protocol.client_events import ConversationItemCreate, ResponseCreate
from agentkit.state import Action, ConversationState, Send, StartCall
from agentkit.tools import ToolResult
from tests.dispatch.wire import call_item, created, done, error, item_done, output_added

ALREADY_ACTIVE = "conversation_already_has_active_response"


@dataclass
class Harness:
    """The state under test, a tiny fake service, and everything observed."""

    state: ConversationState = field(default_factory=ConversationState)
    queue: deque[ev.ServerEvent] = field(default_factory=deque)
    server_active: str | None = None
    known_active: set[str] = field(default_factory=set)
    running: list[str] = field(default_factory=list)
    starts: Counter[str] = field(default_factory=Counter)
    outputs: list[tuple[int, str]] = field(default_factory=list)
    creates: list[tuple[int, ResponseCreate]] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    unacked: set[str] = field(default_factory=set)
    calling_done_at: int | None = None
    vad_saw_everything: bool = False
    clock: int = 0
    responses: int = 0

    def perform(self, actions: list[Action]) -> None:
        for action in actions:
            self.clock += 1
            if isinstance(action, StartCall):
                self.starts[action.call.call_id] += 1
                self.running.append(action.call.call_id)
            elif isinstance(action, Send):
                self.server_receives(action.event)

    def server_receives(self, event: object) -> None:
        if isinstance(event, ConversationItemCreate):
            call_id = event.item["call_id"]
            self.outputs.append((self.clock, call_id))
            self.unacked.add(call_id)
            self.queue.append(output_added(call_id))
        elif isinstance(event, ResponseCreate):
            assert not self.known_active, f"response.create while {self.known_active} active"
            self.creates.append((self.clock, event))
            if self.server_active is not None:
                self.rejected.add(event.event_id)
                self.queue.append(error(ALREADY_ACTIVE, event.event_id))
            else:
                self.responses += 1
                response_id = f"follow_{self.responses}"
                self.queue.extend([created(response_id), done(response_id)])

    def deliver(self) -> None:
        event = self.queue.popleft()
        if isinstance(event, ev.ResponseCreated):
            self.known_active.add(event.response.id or "")
            if event.response.id == "vad" and not self.unacked and self.all_posted():
                self.vad_saw_everything = True
        elif isinstance(event, ev.ResponseDone):
            self.known_active.discard(event.response.id or "")
            if event.response.id == "r1" and self.calling_done_at is None:
                self.calling_done_at = self.clock + 1
        elif isinstance(event, ev.ConversationItemAdded):
            self.unacked.discard(event.item.call_id or "")
        self.perform(self.state.on_event(event))

    def all_posted(self) -> bool:
        return {call_id for _, call_id in self.outputs} == set(self.starts)


@st.composite
def scripts(draw: st.DrawFn) -> tuple[list[ev.ServerEvent], int]:
    """The calling response's events: some item.done skipped or repeated, done maybe twice."""
    count = draw(st.integers(1, 4))
    items = [call_item(f"c{i}", f"tool_{i}") for i in range(count)]
    events: list[ev.ServerEvent] = [created("r1")]
    for item in items:
        events.extend([item_done("r1", item)] * draw(st.integers(0, 2)))
    events.extend([done("r1", *items)] * draw(st.integers(1, 2)))
    return events, count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts(), race=st.booleans(), data=st.data())
def test_any_interleaving_keeps_the_dispatch_rules(
    script: tuple[list[ev.ServerEvent], int], race: bool, data: st.DataObject
) -> None:
    events, count = script
    h = Harness()
    h.perform(h.state.request_response())
    h.queue.extend(events)
    h.creates.clear()  # the user's own request is not the follow-up under test
    vad = "waiting" if race else "done"
    while True:
        moves = []
        if h.queue:
            moves.append("deliver")
        if h.running:
            moves.append("finish")
        if vad == "waiting":
            moves.append("vad_start")
        if vad == "started":
            moves.append("vad_end")
        if not moves:
            break
        move = data.draw(st.sampled_from(moves))
        if move == "deliver":
            h.deliver()
        elif move == "finish":
            call_id = h.running.pop(data.draw(st.integers(0, len(h.running) - 1)))
            h.perform(h.state.call_finished(call_id, ToolResult(f"out-{call_id}")))
        elif move == "vad_start":  # server VAD starts a response of its own
            vad, h.server_active = "started", "vad"
            h.queue.append(created("vad"))
        else:
            vad, h.server_active = "done", None
            h.queue.append(done("vad"))

    ids = [f"c{i}" for i in range(count)]
    assert h.starts == Counter(ids), "every call starts exactly once"
    assert sorted(call_id for _, call_id in h.outputs) == ids, "one output per call_id"
    accepted = [(at, c) for at, c in h.creates if c.event_id not in h.rejected]
    assert len(accepted) <= 1, "exactly one follow-up response.create"
    if not h.vad_saw_everything:
        assert len(accepted) == 1, "the follow-up is never lost"
    assert h.calling_done_at is not None
    last_output = max(at for at, _ in h.outputs)
    for at, _ in h.creates:
        assert at > last_output, "response.create only after every output"
        assert at >= h.calling_done_at, "response.create only after the calling response.done"
