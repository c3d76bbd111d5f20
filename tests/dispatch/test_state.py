"""The dispatch rules of ConversationState, without sockets: events in, actions out."""

from __future__ import annotations

import json
from typing import Any

from agentkit.events import ErrorOccurred, Interrupted, ToolCallFinished, ToolCallStarted
from agentkit.protocol.client_events import (
    ConversationItemTruncate,
    ResponseCancel,
    ResponseCreate,
    user_message,
)
from agentkit.protocol.config import ResponseOptions
from agentkit.state import Action, CancelCalls, ConversationState, Emit, Send, StartCall
from agentkit.tools import ToolResult
from tests.dispatch.wire import (
    Clock,
    audio_delta,
    call_item,
    created,
    creates,
    done,
    error,
    item_done,
    output_added,
    outputs,
    sends,
    speech_started,
    speech_stopped,
    user_added,
)

OK = ToolResult('{"ok":true}')


def started(actions: list[Action]) -> list[str]:
    return [a.call.call_id for a in actions if isinstance(a, StartCall)]


def emitted(actions: list[Action], kind: type) -> list[Any]:
    return [a.event for a in actions if isinstance(a, Emit) and isinstance(a.event, kind)]


def ask(state: ConversationState) -> ResponseCreate:
    """The application asks for a response; returns the response.create it sent."""
    (create,) = creates(state.request_response())
    return create


# -- one call, several calls ------------------------------------------------------------------


def test_call_starts_when_its_item_is_done_before_response_done() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    actions = state.on_event(item_done("r1", call_item("c1", "get_weather", '{"city":"Oslo"}')))
    assert started(actions) == ["c1"]
    (event,) = emitted(actions, ToolCallStarted)
    assert (event.call_id, event.name, event.arguments) == ("c1", "get_weather", '{"city":"Oslo"}')
    assert sends(actions) == []


def test_output_waits_for_response_done_then_one_response_create() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    early = state.call_finished("c1", OK)
    assert sends(early) == []  # the calling response is still active
    assert len(emitted(early, ToolCallFinished)) == 1
    actions = state.on_event(done("r1", call_item("c1")))
    assert outputs(actions) == ["c1"]
    (create,) = creates(actions)
    assert create.response is None
    kinds = [type(e).__name__ for e in sends(actions)]
    assert kinds == ["ConversationItemCreate", "ResponseCreate"]


def test_output_after_response_done_is_posted_at_once_with_the_follow_up() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    assert sends(state.on_event(done("r1", call_item("c1")))) == []
    actions = state.call_finished("c1", OK)
    assert outputs(actions) == ["c1"]
    assert len(creates(actions)) == 1
    assert json.loads(sends(actions)[0].item["output"]) == {"ok": True}  # type: ignore[attr-defined]


def test_parallel_calls_all_start_and_one_create_follows_the_last_output() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    items = [call_item(f"c{i}") for i in range(3)]
    starts = [started(state.on_event(item_done("r1", item))) for item in items]
    assert starts == [["c0"], ["c1"], ["c2"]]
    assert creates(state.on_event(done("r1", *items))) == []
    assert creates(state.call_finished("c2", OK)) == []
    assert creates(state.call_finished("c0", OK)) == []
    last = state.call_finished("c1", OK)
    assert outputs(last) == ["c1"]
    assert len(creates(last)) == 1


def test_no_create_while_the_follow_up_is_in_flight_or_active() -> None:
    state = ConversationState()
    ask(state)
    assert creates(state.request_response()) == []  # the first create is still in flight
    state.on_event(created("r1"))
    assert creates(state.request_response()) == []  # r1 is active
    actions = state.on_event(done("r1"))
    assert len(creates(actions)) == 1  # the queued request, exactly once


def test_call_listed_only_in_response_done_still_runs_once() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    actions = state.on_event(done("r1", call_item("c1")))
    assert started(actions) == ["c1"]
    assert creates(actions) == []
    final = state.call_finished("c1", OK)
    assert outputs(final) == ["c1"] and len(creates(final)) == 1


# -- a call_id answered once, whatever the service repeats ------------------------------------


def test_duplicated_item_done_and_response_done_never_run_or_answer_twice() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    item = call_item("c1")
    assert started(state.on_event(item_done("r1", item))) == ["c1"]
    assert state.on_event(item_done("r1", item)) == []
    first = state.on_event(done("r1", item))
    second = state.on_event(done("r1", item))
    assert started(first + second) == [] and sends(first + second) == []
    answer = state.call_finished("c1", OK)
    assert outputs(answer) == ["c1"]
    assert state.call_finished("c1", OK) == []
    # The same call re-sent later (a replay, a confused model) is not run or answered again.
    state.on_event(created("r2"))
    again = state.on_event(item_done("r2", item)) + state.on_event(done("r2", item))
    assert started(again) == [] and outputs(again) == []


def test_cut_off_call_is_answered_without_running() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    item = call_item("c1", status="incomplete")
    actions = state.on_event(item_done("r1", item))
    assert started(actions) == []
    actions += state.on_event(done("r1", item, status="incomplete", reason="max_output_tokens"))
    assert outputs(actions) == ["c1"]
    (finished,) = emitted(actions, ToolCallFinished)
    assert finished.error_type == "cancelled"


def test_tool_asking_for_no_response_gets_its_output_but_no_create() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1", "hang_up")))
    state.on_event(done("r1", call_item("c1", "hang_up")))
    actions = state.call_finished("c1", ToolResult("bye", respond=False))
    assert outputs(actions) == ["c1"] and creates(actions) == []


# -- the active-response race -----------------------------------------------------------------


def test_already_active_error_requeues_the_follow_up_after_the_vad_response() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(done("r1", call_item("c1")))
    (follow_up,) = creates(state.call_finished("c1", OK))
    # Server VAD starts a response just before ours lands; ours is rejected.
    state.on_event(created("vad"))
    rejected = state.on_event(error("conversation_already_has_active_response", follow_up.event_id))
    assert rejected == []  # benign: no error for the application, no create while active
    (retry,) = creates(state.on_event(done("vad")))
    assert retry.event_id != follow_up.event_id
    state.on_event(created("r2"))
    assert creates(state.on_event(done("r2"))) == []


def test_already_active_error_with_no_response_created_seen_yet() -> None:
    state = ConversationState()
    first = ask(state)
    assert state.on_event(error("conversation_already_has_active_response", first.event_id)) == []
    state.on_event(created("vad"))  # the response that was active all along shows itself
    assert len(creates(state.on_event(done("vad")))) == 1


def test_other_error_on_the_in_flight_create_does_not_block_later_responses() -> None:
    state = ConversationState()
    first = ask(state)
    actions = state.on_event(error("invalid_value", first.event_id))
    (reported,) = emitted(actions, ErrorOccurred)
    assert reported.caused_by == "response.create"
    # No response will come for the rejected create: the next request must go out.
    assert len(creates(state.request_response())) == 1


# -- rounds per user turn ---------------------------------------------------------------------


def run_round(state: ConversationState, response_id: str, call_id: str) -> list[Action]:
    state.on_event(created(response_id))
    item = call_item(call_id)
    actions = state.on_event(item_done(response_id, item))
    actions += state.on_event(done(response_id, item))
    if started(actions):
        actions += state.call_finished(call_id, OK)
    return actions


def test_round_cap_forces_words_then_stops_a_model_that_keeps_calling() -> None:
    state = ConversationState(max_tool_rounds=2)
    ask(state)
    (first,) = creates(run_round(state, "r1", "c1"))
    assert first.response is None
    (second,) = creates(run_round(state, "r2", "c2"))
    assert second.response is not None and second.response.tool_choice == "none"
    # The model ignores tool_choice "none": its call is answered, not run, and the turn ends.
    actions = run_round(state, "r3", "c3")
    assert started(actions) == []
    assert outputs(actions) == ["c3"]
    (finished,) = emitted(actions, ToolCallFinished)
    assert finished.error_type == "round_limit"
    assert creates(actions) == []


def test_a_new_user_turn_resets_the_round_count() -> None:
    state = ConversationState(max_tool_rounds=1)
    ask(state)
    (capped,) = creates(run_round(state, "r1", "c1"))
    assert capped.response is not None and capped.response.tool_choice == "none"
    state.on_event(created("r2"))
    state.on_event(done("r2"))
    state.on_event(user_added("user_2"))
    ask(state)
    actions = run_round(state, "r3", "c2")
    assert started(actions) == ["c2"]


# -- barge-in ---------------------------------------------------------------------------------


def speaking_state(clock: Clock, **options: object) -> ConversationState:
    state = ConversationState(clock=clock, **options)  # type: ignore[arg-type]
    ask(state)
    state.on_event(created("r1"))
    state.on_event(audio_delta("r1", "item_a", 1000))
    state.on_event(audio_delta("r1", "item_a", 1000))
    return state


def test_speech_started_truncates_what_was_not_heard() -> None:
    clock = Clock()
    state = speaking_state(clock)
    clock.now += 0.75
    actions = state.on_event(speech_started())
    (truncate,) = sends(actions)
    assert isinstance(truncate, ConversationItemTruncate)
    assert (truncate.item_id, truncate.content_index, truncate.audio_end_ms) == ("item_a", 0, 750)
    (interrupted,) = emitted(actions, Interrupted)
    assert (interrupted.response_id, interrupted.audio_end_ms) == ("r1", 750)


def test_reported_playback_wins_over_the_clock() -> None:
    clock = Clock()
    state = speaking_state(clock)
    state.report_playback("item_a", 420)
    clock.now += 1.5
    (truncate,) = sends(state.on_event(speech_started()))
    assert isinstance(truncate, ConversationItemTruncate) and truncate.audio_end_ms == 420


def test_no_truncate_when_everything_was_heard() -> None:
    clock = Clock()
    state = speaking_state(clock)
    clock.now += 5
    actions = state.on_event(speech_started())
    assert not any(isinstance(e, ConversationItemTruncate) for e in sends(actions))


def test_speech_cancels_the_response_itself_when_the_server_does_not() -> None:
    clock = Clock()
    state = speaking_state(clock, auto_interrupt=False)
    clock.now += 0.1
    kinds = [type(e) for e in sends(state.on_event(speech_started()))]
    assert kinds == [ResponseCancel, ConversationItemTruncate]


def test_app_interrupt_cancels_and_truncates() -> None:
    clock = Clock()
    state = speaking_state(clock)
    clock.now += 0.2
    cancel, truncate = sends(state.interrupt())
    assert isinstance(cancel, ResponseCancel) and cancel.response_id == "r1"
    assert isinstance(truncate, ConversationItemTruncate) and truncate.audio_end_ms == 200


def test_interrupt_policy_cancel_cancels_running_tools_and_answers_them() -> None:
    clock = Clock()
    state = ConversationState(clock=clock, interrupt_policy="cancel")
    ask(state)
    state.on_event(created("r1"))
    state.on_event(audio_delta("r1", "item_a", 2000))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(done("r1", call_item("c1")))
    actions = state.on_event(speech_started())
    (cancel,) = [a for a in actions if isinstance(a, CancelCalls)]
    assert cancel.call_ids == ("c1",)
    answer = state.call_finished("c1", ToolResult.error("cancelled", error_type="cancelled"))
    assert outputs(answer) == ["c1"]
    assert creates(answer) == []  # the user is talking: no response over them


def test_speech_while_idle_cancels_running_tools_under_the_cancel_policy() -> None:
    for policy, cancelled in (("cancel", ("c1",)), ("finish", ())):
        state = ConversationState(interrupt_policy=policy)  # type: ignore[arg-type]
        ask(state)
        state.on_event(created("r1"))
        state.on_event(item_done("r1", call_item("c1")))
        state.on_event(done("r1", call_item("c1")))  # nothing plays, nothing answers; c1 runs
        actions = state.on_event(speech_started())
        assert tuple(c for a in actions if isinstance(a, CancelCalls) for c in a.call_ids) == (
            cancelled
        )
        assert len(emitted(actions, Interrupted)) == len(cancelled)


def test_a_follow_up_waits_while_the_user_speaks() -> None:
    state = ConversationState(interrupt_policy="finish")
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(done("r1", call_item("c1")))
    state.on_event(speech_started())  # the user talks while c1 runs
    finished = state.call_finished("c1", OK)
    assert outputs(finished) == ["c1"] and creates(finished) == []  # output now, no talking over
    assert len(creates(state.on_event(speech_stopped()))) == 1  # the follow-up, once they stop


def test_with_server_vad_responding_the_held_follow_up_is_left_to_the_server() -> None:
    state = ConversationState(interrupt_policy="finish", auto_response=True)
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(done("r1", call_item("c1")))
    state.on_event(speech_started())
    assert creates(state.call_finished("c1", OK)) == []
    assert creates(state.on_event(speech_stopped())) == []  # VAD's own response sees c1's output
    assert state.idle()


def test_cancel_response_cancels_the_active_one_and_drops_a_queued_request() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    assert creates(state.request_response()) == []  # queued behind r1
    (cancel,) = [a.event for a in state.cancel_response() if isinstance(a, Send)]
    assert isinstance(cancel, ResponseCancel) and cancel.response_id == "r1"
    after = state.on_event(done("r1", status="cancelled", reason="client_cancelled"))
    assert creates(after) == []  # the queued request went with the cancel
    assert state.cancel_response() == []  # nothing active: nothing to send


def test_interrupt_policy_finish_leaves_running_tools_alone() -> None:
    state = ConversationState(interrupt_policy="finish")
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    actions = state.interrupt() + state.on_event(
        done("r1", call_item("c1"), status="cancelled", reason="client_cancelled")
    )
    assert not any(isinstance(a, CancelCalls) for a in actions)
    assert outputs(state.call_finished("c1", OK)) == ["c1"]


def test_cancelled_calling_response_with_cancel_policy_cancels_its_calls() -> None:
    state = ConversationState(interrupt_policy="cancel")
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    actions = state.on_event(
        done("r1", call_item("c1"), status="cancelled", reason="turn_detected")
    )
    (cancel,) = [a for a in actions if isinstance(a, CancelCalls)]
    assert cancel.call_ids == ("c1",) and cancel.reason == "turn_detected"


# -- progress, errors, event ids --------------------------------------------------------------


def test_progress_speaks_only_when_nothing_is_active() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    assert state.progress("halfway") == []  # r1 is still speaking
    state.on_event(done("r1", call_item("c1")))
    (create,) = creates(state.progress("halfway"))
    assert create.response is not None
    assert "halfway" in (create.response.instructions or "")
    assert state.progress("still going") == []  # the progress response is in flight
    state.on_event(created("p1"))
    assert creates(state.call_finished("c1", OK)) == []  # never while p1 is active
    (follow_up,) = creates(state.on_event(done("p1")))
    assert follow_up.response is None


def test_error_is_matched_to_the_event_that_caused_it() -> None:
    state = ConversationState()
    event = user_message("hi")
    state.sent(event)
    (reported,) = emitted(state.on_event(error("invalid_value", event.event_id)), ErrorOccurred)
    assert (reported.caused_by, reported.event_id, reported.code) == (
        "conversation.item.create",
        event.event_id,
        "invalid_value",
    )
    (unmatched,) = emitted(state.on_event(error("server_error", None)), ErrorOccurred)
    assert unmatched.caused_by is None


def test_every_sent_event_has_a_unique_event_id() -> None:
    state = ConversationState()
    actions = state.request_response(ResponseOptions(instructions="x"))
    state.on_event(created("r1"))
    for i in range(3):
        actions += state.on_event(item_done("r1", call_item(f"c{i}")))
    actions += state.on_event(done("r1", *(call_item(f"c{i}") for i in range(3))))
    for i in range(3):
        actions += state.call_finished(f"c{i}", OK)
    ids = [e.event_id for e in sends(actions)]  # type: ignore[attr-defined]
    assert len(ids) == 5 and all(ids) and len(set(ids)) == len(ids)


def test_outputs_acknowledged_later_still_get_one_follow_up() -> None:
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(done("r1", call_item("c1")))
    (create,) = creates(state.call_finished("c1", OK))
    assert state.on_event(output_added("c1")) == []
    state.on_event(created("r2"))
    assert creates(state.on_event(done("r2"))) == []


def test_history_is_recorded_after_the_decisions_but_never_read_behind() -> None:
    """Recording items waits for record_history (the session calls it once its replies are
    written); any read of the history records what is pending first, in order."""
    state = ConversationState()
    ask(state)
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(user_added("item_u"))
    assert state._log.entries == {}  # decided, not yet recorded
    assert list(state.history) == ["item_c1", "item_u"]
    state.on_event(done("r1", call_item("c1")))
    state.record_history()
    assert state._unrecorded is None
    assert state.history["item_c1"]["response_id"] == "r1"
    assert state.history["item_c1"]["status"] == "completed"


def test_history_keeps_the_most_recent_items_within_its_limit() -> None:
    state = ConversationState(max_history_items=3)
    for n in range(5):
        state.on_event(user_added(f"item_{n}"))
    assert [entry.item_id for entry in state.history_items()] == ["item_2", "item_3", "item_4"]
