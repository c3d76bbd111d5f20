"""The conversation state's hooks for guardrails and hand-offs, without a socket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentkit.protocol import events as ev
from agentkit.protocol.client_events import ConversationItemTruncate, ResponseCancel, ResponseCreate
from agentkit.protocol.config import ResponseOptions
from agentkit.state import ConversationState, Send

RECOVERY = ResponseOptions(instructions="recover")


def _sends(actions: Sequence[object]) -> list[Any]:
    return [a.event for a in actions if isinstance(a, Send)]


def _created(response_id: str) -> ev.ResponseCreated:
    return ev.ResponseCreated.model_validate(
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
    )


def _done(response_id: str, status: str = "cancelled") -> ev.ResponseDone:
    return ev.ResponseDone.model_validate(
        {"type": "response.done", "response": {"id": response_id, "status": status, "output": []}}
    )


def _audio(response_id: str, item_id: str) -> ev.ResponseAudioDelta:
    return ev.ResponseAudioDelta.model_validate(
        {
            "type": "response.output_audio.delta",
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": "A" * 400,
        }
    )


def _user(item_id: str) -> ev.ConversationItemAdded:
    item = {"id": item_id, "type": "message", "role": "user", "content": []}
    return ev.ConversationItemAdded.model_validate(
        {"type": "conversation.item.added", "item": item}
    )


def test_stop_response_cancels_truncates_and_queues_the_recovery_behind_it() -> None:
    state = ConversationState()
    state.request_response()
    state.on_event(_created("r1"))
    state.on_event(_audio("r1", "item_a"))
    sent = _sends(state.stop_response(RECOVERY))
    assert [type(e) for e in sent] == [ResponseCancel, ConversationItemTruncate]
    assert state.recoveries_this_turn == 1
    recovery = _sends(state.on_event(_done("r1")))
    assert len(recovery) == 1 and isinstance(recovery[0], ResponseCreate)
    assert recovery[0].response is not None and recovery[0].response.instructions == "recover"


def test_stop_response_cancels_the_response_that_followed_this_turn() -> None:
    state = ConversationState()
    state.request_response()
    state.on_event(_created("r1"))
    state.on_event(_done("r1", "completed"))
    state.request_response()
    state.on_event(_created("r2"))
    (cancel,) = _sends(state.stop_response(None))
    assert isinstance(cancel, ResponseCancel) and cancel.response_id == "r2"


def test_stop_response_of_a_finished_response_asks_for_the_recovery_at_once() -> None:
    state = ConversationState()
    state.request_response()
    state.on_event(_created("r1"))
    state.on_event(_done("r1", "completed"))
    state.rounds_this_turn = 2
    sent = _sends(state.stop_response(RECOVERY))
    assert [type(e) for e in sent] == [ResponseCreate]
    assert state.rounds_this_turn == 2  # a recovery is not a new user turn


def test_a_replayed_user_message_is_no_new_turn_for_handoffs() -> None:
    state = ConversationState()
    state.on_event(_user("u1"))
    state.handoffs_this_turn = 3
    state.recoveries_this_turn = 1
    state.on_event(_user("u1"))  # the same item, replayed after a reconnect
    assert (state.handoffs_this_turn, state.recoveries_this_turn) == (3, 1)
    state.record_history()
    state.on_event(_user("u1"))
    assert state.handoffs_this_turn == 3
    state.on_event(_user("u2"))
    assert (state.handoffs_this_turn, state.recoveries_this_turn) == (0, 0)


def test_a_lost_request_is_asked_again_with_its_options() -> None:
    state = ConversationState()
    state.request_response(RECOVERY)
    state.connection_lost()
    state.replay(10)
    (again,) = _sends(state.resumed())
    assert isinstance(again, ResponseCreate) and again.response == RECOVERY


def test_no_recovery_is_asked_for_while_the_user_speaks() -> None:
    state = ConversationState()
    state.request_response()
    state.on_event(_created("r1"))
    state.on_event(
        ev.InputAudioBufferSpeechStarted.model_validate(
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "u2"}
        )
    )
    assert state.speaking
    state.stop_response(RECOVERY)
    assert _sends(state.on_event(_done("r1"))) == []
    assert state.recoveries_this_turn == 0


def test_a_verdict_on_an_earlier_turn_is_too_late() -> None:
    from agentkit.guardrails import _in_this_turn

    state = ConversationState()
    state.request_response()
    state.on_event(_created("r1"))
    assert _in_this_turn(state, "r1")
    item = {"id": "a1", "type": "message", "role": "assistant", "status": "completed"}
    state.on_event(
        ev.ResponseOutputItemDone.model_validate(
            {"type": "response.output_item.done", "response_id": "r1", "item": item}
        )
    )
    state.on_event(_done("r1", "completed"))
    assert _in_this_turn(state, "r1")
    state.on_event(_user("u2"))
    assert not _in_this_turn(state, "r1")
    assert not _in_this_turn(state, "lost")
