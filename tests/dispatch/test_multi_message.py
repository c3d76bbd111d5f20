"""Responses that hold several messages and calls in any order, as today's models send them (a
preamble, calls, more words), over the simulator: every message reaches the application and the
history in order, and one response.create follows the calling response, after every output."""

from __future__ import annotations

from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.events import AudioDone, ResponseFinished, TranscriptDone
from agentkit.testing import Scenario, Turn
from tests.dispatch.loopback import live
from tests.support import until_idle


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"{topic}: found"


def _agent(modality: str) -> Agent:
    return Agent(instructions="x", tools=[lookup], modality=modality)  # type: ignore[arg-type]


ORDERS: dict[str, tuple[Turn, list[str], list[str]]] = {
    # name: (turn, the items of the first response, the messages of the whole turn)
    "message-call-message": (
        Scenario().on("go").say("Let me check.").call("lookup", topic="a").and_say("One moment.")
        .say("Here it is."),
        ["message", "function_call", "message"],
        ["Let me check.", "One moment.", "Here it is."],
    ),
    "call-message": (
        Scenario().on("go").call("lookup", topic="a").and_say("Looking it up.").say("Done."),
        ["function_call", "message"],
        ["Looking it up.", "Done."],
    ),
    "two-messages-no-call": (
        Scenario().on("go").say("First.").and_say("Second."),
        ["message", "message"],
        ["First.", "Second."],
    ),
    "three-calls-between-two-messages": (
        Scenario().on("go").say("Checking three things.").call("lookup", topic="a")
        .call("lookup", topic="b").call("lookup", topic="c").and_say("All three asked.")
        .say("All found."),
        ["message", "function_call", "function_call", "function_call", "message"],
        ["Checking three things.", "All three asked.", "All found."],
    ),
}  # fmt: skip


def _response_items(sim_conn: Any, index: int) -> list[str]:
    done = sim_conn.sent.of_type("response.done")[index]
    return [item["type"] for item in done["response"]["output"]]


@pytest.mark.parametrize("modality", ["text", "audio"])
@pytest.mark.parametrize("order", list(ORDERS))
async def test_every_message_of_every_order_reaches_the_application_in_order(
    order: str, modality: str
) -> None:
    turn, first_response, messages = ORDERS[order]
    async with live(turn, _agent(modality)) as t:
        await t.session.send_text("go")
        events = await until_idle(t.session)
        assert _response_items(t.conn, 0) == first_response
        spoken = [e.text for e in events if isinstance(e, TranscriptDone)]
        assert spoken == messages
        if modality == "audio":
            assert len([e for e in events if isinstance(e, AudioDone)]) == len(messages)
        history = [
            i.text for i in t.session.history if i.type == "message" and i.role == "assistant"
        ]
        assert history == messages
        finished = [e for e in events if isinstance(e, ResponseFinished)]
        said_first = messages[: first_response.count("message")]
        assert finished[0].text == "\n".join(said_first)
        await t.assert_one_output_per_call()
        types = t.client_types()
        creates = [n for n, kind in enumerate(types) if kind == "response.create"]
        calls = first_response.count("function_call")
        assert len(creates) == (2 if calls else 1)
        if calls:
            outputs = [
                n for n, e in enumerate(t.conn.received.events)
                if e["type"] == "conversation.item.create"
                and e["item"]["type"] == "function_call_output"
            ]  # fmt: skip
            assert len(outputs) == calls and max(outputs) < creates[1]
