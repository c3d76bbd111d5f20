"""Hosted MCP in the sans-I/O state: every approval request gets exactly one answer, then one
response.create; a reconnect neither loses nor repeats it; the mcp_* events reach the
application and the items the history."""

from __future__ import annotations

from typing import Any

from openai.types.realtime.conversation_item_param import ConversationItemParam
from pydantic import TypeAdapter

from agentkit.approval import Approval
from agentkit.events import (
    HostedToolApprovalAnswered,
    HostedToolApprovalRequested,
    HostedToolArgumentsDelta,
    HostedToolArgumentsDone,
    HostedToolCall,
    HostedToolCallFinished,
    HostedToolsListing,
)
from agentkit.hosted_mcp import StartApproval
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import ConversationItemCreate
from agentkit.state import Action, CancelCalls, ConversationState, Emit, Send
from tests.dispatch.wire import (
    Clock,
    created,
    creates,
    done,
    item_done,
    sends,
    speech_started,
    user_added,
)

SDK_ITEM: TypeAdapter[Any] = TypeAdapter(ConversationItemParam)
REQUEST = ev.Item(
    type="mcp_approval_request",
    id="mcpr_1",
    server_label="notes",
    name="add_note",
    arguments='{"text": "milk"}',
)


def answers(actions: list[Action]) -> list[dict[str, Any]]:
    """The mcp_approval_response items among the sends."""
    return [
        e.item
        for e in sends(actions)
        if isinstance(e, ConversationItemCreate) and e.item.get("type") == "mcp_approval_response"
    ]


def told(actions: list[Action], kind: type) -> list[Any]:
    return [a.event for a in actions if isinstance(a, Emit) and isinstance(a.event, kind)]


def requested(state: ConversationState, response_id: str = "resp_1") -> list[Action]:
    """A response that asks for approval, up to its output_item.done."""
    state.on_event(user_added())
    state.on_event(created(response_id))
    return state.on_event(item_done(response_id, REQUEST))


def answer_added(answer: dict[str, Any]) -> ev.ConversationItemAdded:
    return ev.ConversationItemAdded(item=ev.Item.model_validate(answer))


def test_a_request_asks_the_application_once_and_is_answered_after_its_response() -> None:
    state = ConversationState(clock=Clock())

    actions = requested(state)
    starts = [a for a in actions if isinstance(a, StartApproval)]
    assert [s.call.call_id for s in starts] == ["mcpr_1"]
    (asked,) = told(actions, HostedToolApprovalRequested)
    assert (asked.server_label, asked.name) == ("notes", "add_note")
    assert asked.arguments == REQUEST.arguments

    decided = state.approval_decided("mcpr_1", Approval.deny("not now"))
    assert answers(decided) == []  # its response is still running: the service would refuse
    assert told(decided, HostedToolApprovalAnswered)[0].approved is False

    finished = state.on_event(done("resp_1", REQUEST))
    (answer,) = answers(finished)
    assert answer["approval_request_id"] == "mcpr_1"
    assert answer["approve"] is False and answer["reason"] == "not now"
    assert answer["id"]
    assert SDK_ITEM.validate_python(answer) == answer
    assert len(creates(finished)) == 1


def test_an_answer_after_the_response_ended_goes_at_once_with_one_response_create() -> None:
    state = ConversationState(clock=Clock())
    requested(state)
    assert creates(state.on_event(done("resp_1", REQUEST))) == []  # nothing to say yet

    decided = state.approval_decided("mcpr_1", Approval.allow())
    (answer,) = answers(decided)
    assert answer["approve"] is True and "reason" not in answer
    assert len(creates(decided)) == 1
    assert state.approval_decided("mcpr_1", Approval.deny()) == []  # decided once


def test_a_request_seen_twice_is_asked_about_once() -> None:
    state = ConversationState(clock=Clock())
    requested(state)
    again = state.on_event(item_done("resp_1", REQUEST))
    at_end = state.on_event(done("resp_1", REQUEST))
    assert not [a for a in [*again, *at_end] if isinstance(a, StartApproval)]


def test_a_request_only_response_done_lists_is_still_asked_about() -> None:
    state = ConversationState(clock=Clock())
    state.on_event(user_added())
    state.on_event(created("resp_1"))
    actions = state.on_event(done("resp_1", REQUEST))
    assert [a.call.call_id for a in actions if isinstance(a, StartApproval)] == ["mcpr_1"]
    assert len(answers(state.approval_decided("mcpr_1", Approval.allow()))) == 1


def test_a_decision_made_while_disconnected_is_sent_once_after_the_request_is_restored() -> None:
    state = ConversationState(clock=Clock())
    requested(state)
    state.on_event(done("resp_1", REQUEST))
    state.connection_lost()

    state.approval_decided("mcpr_1", Approval.allow())  # queued for a socket that is gone
    replay = state.replay(50)
    resumed = state.resumed()

    kinds = [e.item["type"] for e in replay.events if isinstance(e, ConversationItemCreate)]
    assert kinds.index("mcp_approval_request") < kinds.index("mcp_approval_response")
    sent = [*answers(list(map(_send, replay.events))), *answers(resumed)]
    assert len(sent) == 1, "exactly one answer reaches the new socket"
    assert len(creates(resumed)) == 1


def test_an_answer_lost_with_the_socket_is_sent_again_once_and_not_after_its_ack() -> None:
    state = ConversationState(clock=Clock())
    requested(state)
    state.on_event(done("resp_1", REQUEST))
    (answer,) = answers(state.approval_decided("mcpr_1", Approval.allow()))

    state.connection_lost()  # written, but the service never acknowledged it
    first = state.replay(50)
    assert len(answers(list(map(_send, first.events)))) == 1
    assert answers(state.resumed()) == []

    state.on_event(answer_added(answer))  # acknowledged on the new socket
    state.connection_lost()
    second = state.replay(50)
    again = answers(list(map(_send, second.events)))
    assert [a["id"] for a in again] == [answer["id"]], "restored from the history, once"
    assert answers(state.resumed()) == []


def test_a_request_whose_response_was_lost_is_still_answered_once() -> None:
    state = ConversationState(clock=Clock())
    requested(state)
    state.connection_lost()  # no response.done: the request stays, and is owed its answer

    state.approval_decided("mcpr_1", Approval.allow())
    replay = state.replay(50)
    resumed = state.resumed()
    assert len(answers([*map(_send, replay.events), *resumed])) == 1
    assert len(creates(resumed)) == 1


def test_the_hosted_events_reach_the_application_with_the_items_fields() -> None:
    state = ConversationState(clock=Clock())
    listing = ev.Item(type="mcp_list_tools", id="mcpl_1", server_label="notes", tools=())
    state.on_event(ev.ConversationItemAdded(item=listing))
    started = state.on_event(ev.McpListToolsInProgress(item_id="mcpl_1"))
    tools = ({"name": "add_note", "input_schema": {}}, {"name": "list_notes", "input_schema": {}})
    listed = state.on_event(ev.McpListToolsCompleted(item_id="mcpl_1"))
    # The item with its tools may follow "completed" in the chunk; the event is told after it.
    state.on_event(ev.ConversationItemDone(item=listing.model_copy(update={"tools": tools})))

    assert told(started, HostedToolsListing)[0].status == "in_progress"
    (complete,) = told(listed, HostedToolsListing)
    assert (complete.server_label, complete.tools) == ("notes", ("add_note", "list_notes"))

    call = ev.Item(type="mcp_call", id="mcp_1", server_label="notes", name="list_notes")
    state.on_event(created("resp_1"))
    state.on_event(ev.ResponseOutputItemAdded(response_id="resp_1", item=call))
    delta = state.on_event(
        ev.ResponseMcpCallArgumentsDelta(response_id="resp_1", item_id="mcp_1", delta="{}")
    )
    arguments = state.on_event(
        ev.ResponseMcpCallArgumentsDone(response_id="resp_1", item_id="mcp_1", arguments="{}")
    )
    running = state.on_event(ev.ResponseMcpCallInProgress(item_id="mcp_1"))
    completed = state.on_event(ev.ResponseMcpCallCompleted(item_id="mcp_1"))
    finished = call.model_copy(update={"arguments": "{}", "output": "milk"})
    output = state.on_event(item_done("resp_1", finished))

    assert told(delta, HostedToolArgumentsDelta)[0].delta == "{}"
    assert told(arguments, HostedToolArgumentsDone)[0].name == "list_notes"
    assert [told(a, HostedToolCall)[0].status for a in (running, completed)] == [
        "in_progress",
        "completed",
    ]
    (result,) = told(output, HostedToolCallFinished)
    assert (result.server_label, result.output, result.error) == ("notes", "milk", None)

    entries = {item.item_id: item for item in state.history_items()}
    assert entries["mcpl_1"].tools == ("add_note", "list_notes")
    assert entries["mcp_1"].output == "milk" and entries["mcp_1"].server_label == "notes"


def test_a_replay_restores_calls_and_approvals_but_not_the_tools_list() -> None:
    state = ConversationState(clock=Clock())
    listing = ev.Item(type="mcp_list_tools", id="mcpl_1", server_label="notes", tools=())
    state.on_event(ev.ConversationItemAdded(item=listing))
    requested(state)
    state.on_event(done("resp_1", REQUEST))
    (answer,) = answers(state.approval_decided("mcpr_1", Approval.allow()))
    state.on_event(answer_added(answer))
    call = ev.Item(
        type="mcp_call",
        id="mcp_1",
        server_label="notes",
        name="add_note",
        arguments=REQUEST.arguments,
        output="saved",
        approval_request_id="mcpr_1",
    )
    state.on_event(created("resp_2"))
    state.on_event(item_done("resp_2", call))
    state.on_event(done("resp_2", call))

    state.connection_lost()
    replay = state.replay(50)

    items = [e.item for e in replay.events if isinstance(e, ConversationItemCreate)]
    restored = {item["type"]: item for item in items}
    assert restored["mcp_call"]["output"] == "saved"
    assert restored["mcp_call"]["approval_request_id"] == "mcpr_1"
    assert restored["mcp_approval_response"]["approve"] is True
    assert "mcp_list_tools" not in restored
    for item in (i for i in items if i["type"].startswith("mcp_")):
        assert SDK_ITEM.validate_python(item) == item  # as the SDK types a client's item
    assert any("lists the server's tools again" in note for note in replay.not_restored)
    assert answers(state.resumed()) == []


def _send(event: Any) -> Action:
    return Send(event)


def test_barge_in_under_the_cancel_policy_cancels_the_decision_and_asks_nothing_more() -> None:
    state = ConversationState(clock=Clock(), interrupt_policy="cancel")
    requested(state)
    state.on_event(done("resp_1", REQUEST))

    interrupted = state.on_event(speech_started())
    (cancel,) = [a for a in interrupted if isinstance(a, CancelCalls)]
    assert cancel.call_ids == ("mcpr_1",)

    decided = state.approval_decided("mcpr_1", Approval.deny("the request was cancelled"))
    assert [a["approve"] for a in answers(decided)] == [False]  # still answered, once
    assert creates(decided) == []  # the user speaks next
