"""Out-of-band responses over the simulator: Session.aside answers on the side, even while a
normal response runs, and nothing of it enters the conversation."""

from __future__ import annotations

import asyncio

import pytest

from agentkit import Agent, AnswerTimeoutError, tool
from agentkit.events import (
    AsideFinished,
    ResponseFinished,
    ResponseStarted,
    TranscriptDelta,
    TranscriptDone,
)
from agentkit.testing import Scenario
from tests.dispatch.loopback import live
from tests.support import TIMEOUT, until_idle

SCENARIO = (
    Scenario()
    .on("refund").say("billing")
    .on("weather").call("lookup", topic="weather").say("It is sunny.")
)  # fmt: skip


@tool
async def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"{topic}: sunny"


AGENT = Agent(instructions="x", tools=[lookup], modality="text")


async def test_an_aside_answers_without_entering_the_conversation() -> None:
    async with live(SCENARIO, AGENT) as t:
        result = await t.session.aside(
            "Classify the caller's intent in one word.",
            input=["I want a refund for my order."],
            metadata={"purpose": "intent"},
            timeout=TIMEOUT,
        )
        assert result.text == "billing"
        assert result.status == "completed"
        assert result.metadata == {"purpose": "intent"}
        (create,) = t.client("response.create")
        assert create["response"]["conversation"] == "none"
        assert create["response"]["tool_choice"] == "none"
        assert t.session.history == []
        assert t.events.of(ResponseStarted) == [] and t.events.of(ResponseFinished) == []
        assert t.events.of(TranscriptDelta) == [] and t.events.of(TranscriptDone) == []
        assert t.session.idle


async def test_an_aside_runs_while_a_tool_round_is_in_progress() -> None:
    async with live(SCENARIO, AGENT, stream_delay=0.02) as t:
        await t.session.send_text("What's the weather?")
        await t.events.wait_for(ResponseStarted)
        side = asyncio.ensure_future(
            t.session.aside("Classify.", input=["refund please"], timeout=TIMEOUT)
        )
        events = await until_idle(t.session)
        result = await side
        assert result.text == "billing"
        finished = [e for e in events if isinstance(e, ResponseFinished)]
        assert finished[-1].text == "It is sunny."
        assert [e.aside_id for e in t.events.of(AsideFinished)] != []
        errors = [e for e in t.conn.sent.of_type("error")]
        assert errors == []
        words = [i.text for i in t.session.history if i.type == "message"]
        assert "billing" not in words


async def test_an_aside_that_gets_no_answer_times_out() -> None:
    async with live(SCENARIO, AGENT) as t:
        t.sim.faults.delay(TIMEOUT, "response.done")
        with pytest.raises(AnswerTimeoutError):
            await t.session.aside("Classify.", input=["refund"], timeout=TIMEOUT / 20)
