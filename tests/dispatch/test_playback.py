"""Barge-in with several audio items: the cut lands on the item playing, and everything queued
behind it is cut too (a preamble and an answer in one response, or a response after a tool round
that starts while the previous one is still playing)."""

from __future__ import annotations

from agentkit.events import Interrupted
from agentkit.playback import Playback
from agentkit.protocol.client_events import ConversationItemTruncate
from agentkit.state import ConversationState, Emit
from tests.dispatch.wire import Clock, audio_delta, created, sends, speech_started


def truncations(actions: list[object]) -> list[tuple[str, int]]:
    return [
        (e.item_id, e.audio_end_ms)
        for e in sends(actions)  # type: ignore[arg-type]
        if isinstance(e, ConversationItemTruncate)
    ]


def interrupted(actions: list[object]) -> Interrupted:
    (event,) = [
        a.event for a in actions if isinstance(a, Emit) and isinstance(a.event, Interrupted)
    ]
    return event


def speaking(clock: Clock) -> ConversationState:
    """A response with a preamble (1 s of audio) and an answer (2 s), both received at once."""
    state = ConversationState(clock=clock, auto_interrupt=True)
    state.request_response()
    state.on_event(created("r1"))
    state.on_event(audio_delta("r1", "preamble", 1000))
    state.on_event(audio_delta("r1", "answer", 2000))
    return state


def test_barge_in_during_the_preamble_cuts_it_and_the_whole_answer() -> None:
    clock = Clock()
    state = speaking(clock)
    clock.now += 0.4
    actions = state.on_event(speech_started())
    assert truncations(actions) == [("preamble", 400), ("answer", 0)]
    event = interrupted(actions)
    assert (event.item_id, event.audio_end_ms) == ("preamble", 400)


def test_barge_in_during_the_answer_leaves_the_preamble_alone() -> None:
    clock = Clock()
    state = speaking(clock)
    clock.now += 1.5  # the preamble played in full; half a second of the answer
    actions = state.on_event(speech_started())
    assert truncations(actions) == [("answer", 500)]
    assert interrupted(actions).item_id == "answer"


def test_a_reported_position_wins_over_the_clock() -> None:
    clock = Clock()
    state = speaking(clock)
    clock.now += 1.5
    state.report_playback("preamble", 700)  # the application's player is behind
    assert truncations(state.on_event(speech_started())) == [("preamble", 700), ("answer", 0)]


def test_a_new_response_queues_behind_audio_still_playing() -> None:
    clock = Clock()
    state = speaking(clock)
    clock.now += 0.5
    state.on_event(audio_delta("r2", "follow_up", 1000))  # plays from 3.0 s on
    clock.now += 2.7  # 3.2 s in: 0.2 s of the follow-up
    assert truncations(state.on_event(speech_started())) == [("follow_up", 200)]


def test_audio_heard_in_full_is_not_cut() -> None:
    clock = Clock()
    state = speaking(clock)
    clock.now += 3.5
    actions = state.on_event(speech_started())
    assert truncations(actions) == []


def test_items_heard_in_full_are_forgotten_as_new_ones_arrive() -> None:
    clock = Clock()
    playback = Playback(clock)
    for n in range(100):
        playback.add(f"item{n}").received_ms = 100.0
        clock.now += 1.0
    assert len(playback.items) == 1
