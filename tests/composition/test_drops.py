"""A hand-off there and back surviving a dropped socket at each step, over real WebSockets
against the simulator: the history is the one a steady socket gives, each transfer happens
once, and every call's output is in the last socket's conversation exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from agentkit import SessionOptions
from agentkit.events import HandoffOccurred, Reconnected, ToolCallFinished
from agentkit.reconnect import ReconnectPolicy
from tests.composition.test_handoffs import BILLING, THERE_AND_BACK, TRIAGE, _settled
from tests.dispatch.loopback import Live, live

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
HISTORY = [
    "a question about my invoice",
    "Invoice A-7 is 42.",
    "thanks, that's all",
    "Triage again: anything else?",
]
CALLS = ["transfer_to_billing", "get_invoice", "transfer_back"]


def _outputs(t: Live, index: int) -> list[str]:
    """The call ids of the function_call_output items socket ``index`` received, in order."""
    return [
        e["item"]["call_id"]
        for e in t.sim.connections[index].received.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]


def _replayed(t: Live, index: int) -> list[tuple[str, Any]]:
    """The conversation items socket ``index`` was given, as (type, text or name)."""
    items = []
    for e in t.sim.connections[index].received.of_type("conversation.item.create"):
        item = e["item"]
        if item["type"] == "message":
            items.append(("message", item["content"][0].get("text")))
        elif item["type"] == "function_call":
            items.append(("function_call", item["name"]))
    return items


@pytest.mark.parametrize(
    "drop_after",
    [None, 1, 2, 3, 4],
    ids=[
        "steady",
        "the-transfer-call",
        "billing's-call",
        "billing's-answer",
        "the-transfer-back-call",
    ],
)
async def test_a_handoff_there_and_back_keeps_the_history_across_a_drop(
    drop_after: int | None,
) -> None:
    """``drop_after``: the socket drops right after the n-th ``response.done``."""
    async with live(THERE_AND_BACK, TRIAGE, options=SessionOptions(reconnect=FAST)) as t:
        if drop_after is not None:
            t.sim.faults.drop_after_event("response.done", count=drop_after, code=1011)
        await t.session.send_text("a question about my invoice")
        first = await _settled(t)
        assert first.text == "Invoice A-7 is 42."
        assert t.session.agent is BILLING
        await t.session.send_text("thanks, that's all")
        second = await _settled(t, 2)
        assert second.text == "Triage again: anything else?"
        assert t.session.agent is TRIAGE
        sockets = len(t.sim.connections)
        assert sockets == (1 if drop_after is None else 2)
        assert len(t.events.of(Reconnected)) == sockets - 1
        texts = [item.text for item in t.session.history if item.type == "message"]
        assert texts == HISTORY
        names = [item.name for item in t.session.history if item.type == "function_call"]
        assert names == CALLS
        moves = [(e.source, e.target) for e in t.events.of(HandoffOccurred)]
        assert moves == [("triage", "billing"), ("billing", "triage")]
        finished = t.events.of(ToolCallFinished)
        assert [e.name for e in finished] == CALLS
        last = _outputs(t, sockets - 1)
        assert sorted(last) == sorted(e.call_id for e in finished)  # each once, at the end
        assert all(len(set(_outputs(t, i))) == len(_outputs(t, i)) for i in range(sockets))
        if drop_after is not None:
            # The new socket's conversation begins with what came before the drop, in order.
            replayed = _replayed(t, 1)
            assert replayed[0] == ("message", HISTORY[0])
            assert replayed[1] == ("function_call", "transfer_to_billing")
            updates = t.sim.connections[1].received.of_type("session.update")
            agent_then = BILLING if drop_after < 4 else TRIAGE
            assert updates[0]["session"]["instructions"] == agent_then.instructions
