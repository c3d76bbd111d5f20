"""Regression tests for what fuzzing and a new user's first hour found in ConversationState.

Each test is named after the finding it pins down; all run without sockets.
"""

from __future__ import annotations

from typing import Any

from agentkit.events import ErrorOccurred
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import (
    RESUME_ITEM_PREFIX,
    ResponseCancel,
    user_message,
)
from agentkit.state import Action, ConversationState, Emit
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
CANCELLED = ToolResult.error("tool was cancelled: interrupted", error_type="cancelled")


def errors(actions: list[Action]) -> list[ErrorOccurred]:
    return [a.event for a in actions if isinstance(a, Emit) and isinstance(a.event, ErrorOccurred)]


def tool_round(state: ConversationState, response_id: str, call_id: str) -> list[Action]:
    """A response that calls one tool, which finishes after the response ends."""
    state.on_event(created(response_id))
    state.on_event(item_done(response_id, call_item(call_id)))
    state.on_event(done(response_id, call_item(call_id)))
    return state.call_finished(call_id, OK)


def replayed_items(state: ConversationState, max_items: int = 200) -> list[dict[str, Any]]:
    """The items a restore sends, each recorded by state.sent() as the session does."""
    items = []
    for event in state.replay(max_items).events:
        state.sent(event)
        items.append(event.item)
    return items


def reconnect(state: ConversationState, max_items: int = 200) -> list[dict[str, Any]]:
    state.connection_lost()
    return replayed_items(state, max_items)


# -- A: a stray speech_started ------------------------------------------------------------------


def test_a_speech_started_without_turn_detection_is_ignored() -> None:
    state = ConversationState(server_vad=False, auto_interrupt=False)
    state.request_response()
    state.on_event(speech_started())
    assert len(creates(tool_round(state, "r1", "c1"))) == 1


def test_a_a_drop_ends_a_speech_wait() -> None:
    state = ConversationState()
    state.request_response()
    state.on_event(speech_started())
    assert creates(tool_round(state, "r1", "c1")) == []  # held: the user is speaking
    state.connection_lost()
    state.replay(200)
    assert len(creates(state.resumed())) == 1


def test_a_speech_that_never_stops_holds_the_follow_up_only_until_the_stale_limit() -> None:
    clock = Clock()
    state = ConversationState(clock=clock, stale_response_after=5.0)
    state.request_response()
    state.on_event(speech_started())
    assert creates(tool_round(state, "r1", "c1")) == []
    assert state.watched() and state.stale_in() == 5.0
    clock.now += 5.0
    actions = state.check_stale()
    assert [e.code for e in errors(actions)] == ["stale_response"]
    assert len(creates(actions)) == 1


def test_a_speech_that_stops_releases_the_follow_up_at_once() -> None:
    state = ConversationState(auto_response=False)
    state.request_response()
    state.on_event(speech_started())
    assert creates(tool_round(state, "r1", "c1")) == []
    assert len(creates(state.on_event(speech_stopped()))) == 1


# -- B: busy elsewhere ----------------------------------------------------------------------------


def busy_elsewhere(state: ConversationState) -> None:
    (create,) = creates(state.request_response())
    assert state.on_event(error("conversation_already_has_active_response", create.event_id)) == []


def test_b_a_drop_forgets_a_response_reported_active_elsewhere() -> None:
    state = ConversationState()
    busy_elsewhere(state)
    state.connection_lost()
    state.replay(200)
    assert len(creates(state.resumed())) == 1
    assert creates(state.request_response()) == []  # that one is in flight now: queued


def test_b_a_response_reported_active_that_never_ends_goes_stale() -> None:
    clock = Clock()
    state = ConversationState(clock=clock, stale_response_after=5.0)
    busy_elsewhere(state)
    clock.now += 5.0
    assert len(creates(state.check_stale())) == 1


def test_an_unanswered_response_create_goes_stale_and_a_follow_up_is_asked_again() -> None:
    clock = Clock()
    state = ConversationState(clock=clock, stale_response_after=5.0)
    state.request_response()
    (follow_up,) = creates(tool_round(state, "r1", "c1"))
    clock.now += 5.0
    actions = state.check_stale()
    (again,) = creates(actions)
    assert again.event_id != follow_up.event_id
    assert state.rounds_this_turn == 1  # still one round


def test_progress_while_disconnected_asks_for_nothing_and_the_follow_up_comes_on_resume() -> None:
    """A request made with no socket would be lost with the outbox on restore, and its
    in-flight mark would hold the call's follow-up (found by the MCP drop tests)."""
    state = ConversationState()
    state.request_response()
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.on_event(done("r1", call_item("c1")))
    state.connection_lost()
    assert state.progress("halfway") == []
    replayed_items(state)
    state.resumed()
    (follow_up,) = creates(state.call_finished("c1", OK))
    assert follow_up.response is None  # the round's follow-up, not a progress response


# -- C, D: no output without its call ------------------------------------------------------------


def test_c_a_call_cut_off_in_a_response_that_ended_comes_back_with_its_output() -> None:
    """The cancelled response ended, so the service keeps its cut-off call: the replay sends
    the call and then its "cancelled" output, never the output alone."""
    state = ConversationState()
    state.request_response()
    state.on_event(created("r1"))
    cut = call_item("c1", status="incomplete")
    state.on_event(item_done("r1", cut))
    actions = state.on_event(done("r1", cut, status="cancelled"))
    assert outputs(actions) == ["c1"]  # answered "cancelled" on this socket
    state.on_event(output_added("c1"))
    replay = reconnect(state)
    assert [i["type"] for i in replay if i.get("call_id") == "c1"] == [
        "function_call",
        "function_call_output",
    ]


def test_c_a_call_cut_off_with_the_socket_leaves_no_output_behind() -> None:
    """The response was still active when the socket dropped: its cut-off call is gone with
    it, and so is the output the state had decided for it."""
    state = ConversationState()
    state.request_response()
    state.on_event(created("r1"))
    actions = state.on_event(item_done("r1", call_item("c1", status="incomplete")))
    assert outputs(actions) == []  # decided "cancelled", posted after response.done
    replay = reconnect(state)
    assert [i for i in replay if i.get("call_id") == "c1"] == []
    assert outputs(state.resumed()) == []


def test_c_an_unacknowledged_output_whose_call_is_lost_is_not_replayed_nor_posted() -> None:
    state = ConversationState()
    state.request_response()
    state.on_event(created("r1"))
    nameless = ev.Item(type="function_call", call_id="c1", name=None, arguments="{}", id="i1")
    state.on_event(ev.ConversationItemAdded(item=nameless))  # recorded: but not replayable
    state.on_event(item_done("r1", ev.Item(type="function_call", call_id="c1", status="completed")))
    state.on_event(done("r1"))
    state.call_finished("c1", OK)  # posted on this socket, never acknowledged
    replay = reconnect(state)
    assert [i for i in replay if i.get("call_id") == "c1"] == []
    assert outputs(state.resumed()) == []
    assert "c1" not in state.calls


def test_d_the_replay_budget_never_leaves_an_output_without_its_call() -> None:
    state = ConversationState()
    state.on_event(user_added("u1"))
    tool_round(state, "r1", "c1")
    state.on_event(output_added("c1"))
    state.on_event(ev.ConversationItemAdded(item=assistant("a1", "Done.")))
    replay = reconnect(state, max_items=2)  # the output and the answer, not the call
    assert [i["type"] for i in replay[:-1]] == ["message"]
    assert replay[-1]["id"].startswith(RESUME_ITEM_PREFIX)


def assistant(item_id: str, text: str, role: str = "assistant") -> ev.Item:
    content = (ev.ContentPart(type="output_text", text=text),)
    return ev.Item(type="message", role=role, id=item_id, status="completed", content=content)


# -- E: what is replayed is valid whatever was received --------------------------------------------


def test_e_malformed_items_are_not_replayed_and_are_reported() -> None:
    state = ConversationState()
    nameless = ev.Item(type="function_call", id="i1", call_id="c9", name=None, status="completed")
    orphan = ev.Item(type="function_call_output", id="i2", call_id=None, output="x")
    for item in (nameless, orphan, assistant("i3", "hello", role="robot"), assistant("i4", "ok")):
        state.on_event(ev.ConversationItemAdded(item=item))
    state.connection_lost()
    replay = state.replay(200)
    items = [e.item for e in replay.events]
    assert [i["id"] for i in items[:-1]] == ["i4"]
    assert replay.restored == 1
    assert sum("malformed" in reason for reason in replay.not_restored) == 3


# -- F: memory -------------------------------------------------------------------------------------


def test_f_calls_outside_a_response_are_forgotten_once_acknowledged() -> None:
    state = ConversationState(max_tool_rounds=10_000)
    for n in range(3_000):
        call_id = f"c{n}"
        state.on_event(item_done("r_unknown", call_item(call_id)))
        assert outputs(state.call_finished(call_id, OK)) == [call_id]
        state.on_event(output_added(call_id))
    assert state.calls == {}


def test_f_outputs_the_server_never_acknowledges_are_bounded() -> None:
    state = ConversationState(max_tool_rounds=10_000)
    for n in range(3_000):
        state.on_event(item_done("r_unknown", call_item(f"c{n}")))
        state.call_finished(f"c{n}", OK)
    assert len(state.calls) <= 1_000
    assert len(state._unacked_outputs) <= 1_000


def test_f_the_history_is_capped_by_characters() -> None:
    state = ConversationState(max_history_chars=10_000)
    for n in range(50):
        state.on_event(ev.ConversationItemAdded(item=assistant(f"a{n}", "x" * 1_000)))
    kept = state.history_items()
    assert sum(len(item.text) for item in kept) <= 10_000
    assert [item.item_id for item in kept][-1] == "a49"


def test_f_a_transcript_counts_against_the_character_cap() -> None:
    state = ConversationState(max_history_chars=1_500)
    state.on_event(user_added("u1"))
    state.on_event(user_added("u2"))
    done_event = ev.InputAudioTranscriptionCompleted(item_id="u2", transcript="y" * 1_400)
    state.on_event(done_event)
    state.on_event(ev.ConversationItemAdded(item=assistant("a1", "z" * 200)))
    assert [item.item_id for item in state.history_items()] == ["a1"]


# -- G: no item twice after a drop during a replay ----------------------------------------------


def test_g_a_drop_during_a_replay_sends_each_user_message_once() -> None:
    state = ConversationState()
    message = user_message("hello", item_id="u1")
    state.sent(message)
    state.on_event(ev.ConversationItemAdded(item=user_item("u1", "hello")))
    first = reconnect(state)  # not acknowledged on this socket: it drops again
    second = reconnect(state)
    for replay in (first, second):
        assert [i["id"] for i in replay].count("u1") == 1
        notes = [i for i in replay if i["id"].startswith(RESUME_ITEM_PREFIX)]
        assert len(notes) == 1


def test_g_unacknowledged_input_is_sent_once_after_two_drops() -> None:
    state = ConversationState()
    state.sent(user_message("are you there?", item_id="u7"))
    first = reconnect(state)
    second = reconnect(state)
    assert [i["id"] for i in first].count("u7") == 1
    assert [i["id"] for i in second].count("u7") == 1
    assert sum(i["id"].startswith(RESUME_ITEM_PREFIX) for i in second) == 0  # nothing to resume


def user_item(item_id: str, text: str) -> ev.Item:
    content = (ev.ContentPart(type="input_text", text=text),)
    return ev.Item(type="message", role="user", id=item_id, status="completed", content=content)


# -- issue 18: an interruption under "cancel", and the round cap ---------------------------------


def test_interrupt_under_cancel_asks_no_follow_up_even_if_the_response_completes() -> None:
    state = ConversationState(interrupt_policy="cancel")
    state.request_response()
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    interrupt = state.interrupt()
    (cancel,) = [e for e in sends(interrupt) if isinstance(e, ResponseCancel)]
    assert state.call_finished("c1", CANCELLED) != []
    actions = state.on_event(done("r1", call_item("c1")))  # it ended before the cancel landed
    assert outputs(actions) == ["c1"]
    assert creates(actions) == []
    assert state.on_event(error("response_cancel_not_active", cancel.event_id)) == []
    assert state.idle()


def test_interrupt_under_cancel_with_the_response_cancelled_asks_no_follow_up() -> None:
    state = ConversationState(interrupt_policy="cancel")
    state.request_response()
    state.on_event(created("r1"))
    state.on_event(item_done("r1", call_item("c1")))
    state.interrupt()
    state.call_finished("c1", CANCELLED)
    actions = state.on_event(done("r1", call_item("c1"), status="cancelled"))
    assert outputs(actions) == ["c1"] and creates(actions) == []


def test_round_cap_in_a_response_the_service_started_ends_in_an_answer() -> None:
    state = ConversationState(max_tool_rounds=1)
    state.request_response()
    (capped,) = creates(tool_round(state, "r1", "c1"))  # the last allowed round: no tools
    assert capped.response is not None and capped.response.tool_choice == "none"
    state.on_event(created("r2"))
    state.on_event(done("r2"))
    # The service starts a response by itself, and the model calls a tool in it.
    state.on_event(created("r3"))
    refused = state.on_event(item_done("r3", call_item("c2")))
    assert errors(refused) == []
    actions = state.on_event(done("r3", call_item("c2")))
    assert outputs(actions) == ["c2"]
    (answer,) = creates(actions)
    assert answer.response is not None and answer.response.tool_choice == "none"


def test_round_cap_a_model_that_ignores_tool_choice_none_is_told_to_the_application() -> None:
    state = ConversationState(max_tool_rounds=1)
    state.request_response()
    creates(tool_round(state, "r1", "c1"))
    state.on_event(created("r2"))  # the capped follow-up; the model calls anyway
    refused = state.on_event(item_done("r2", call_item("c2")))
    assert [e.code for e in errors(refused)] == ["round_limit"]
    actions = state.on_event(done("r2", call_item("c2")))
    assert outputs(actions) == ["c2"] and creates(actions) == []
    assert state.idle()


def test_resume_notes_are_never_kept_as_input() -> None:
    state = ConversationState()
    state.on_event(ev.ConversationItemAdded(item=assistant("a1", "Hello.")))
    state.sent(user_message("hi", item_id="u1"))
    for event in state.replay(200).events:
        state.sent(event)
    assert list(state._unacked_items) == ["u1"]


def test_a_truncated_answer_keeps_only_the_words_the_user_heard() -> None:
    clock = Clock()
    state = ConversationState(clock=clock)
    state.request_response()
    state.on_event(created("r1"))
    state.on_event(audio_delta("r1", "a1", 2000))
    words = "one two three four five six seven eight"
    state.on_event(item_done("r1", spoken("a1", words)))
    clock.now += 1.0  # half of the two seconds played
    (truncate,) = [
        e for e in sends(state.on_event(speech_started())) if e.type.endswith("truncate")
    ]
    state.on_event(done("r1", spoken("a1", words), status="cancelled"))
    state.on_event(ev.ConversationItemTruncated(item_id="a1", content_index=0, audio_end_ms=1000))
    (item,) = [i for i in state.history_items() if i.item_id == "a1"]
    assert item.truncated and item.text == "one two three four"
    replay = reconnect(state)
    (message,) = [i for i in replay if i["id"] == "a1"]
    assert message["content"][0]["text"] == "one two three four"


def spoken(item_id: str, transcript: str) -> ev.Item:
    content = (ev.ContentPart(type="output_audio", transcript=transcript),)
    return ev.Item(
        type="message", role="assistant", id=item_id, status="incomplete", content=content
    )
