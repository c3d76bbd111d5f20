"""examples/long_running.py: progress from a slow tool, and a barge-in that cancels it."""

from __future__ import annotations

import asyncio

from agentkit import Session
from agentkit.events import (
    Event,
    Interrupted,
    ResponseFinished,
    ToolCallFinished,
    ToolProgress,
    TranscriptDone,
)
from agentkit.testing import silence, speech
from agentkit.testing.scenario import PROGRESS_TEXT
from tests.examples.helpers import ask, load_example, of_type, simulated_session
from tests.support import TIMEOUT

reports = load_example("long_running")


async def test_progress_then_the_report() -> None:
    text = reports.agent.with_changes(modality="text", turn_detection=None)
    deps = reports.ReportDeps(stage_seconds=0.01)
    async with simulated_session(reports, agent=text, deps=deps, options=reports.options) as (
        session,
        _,
    ):
        events = await ask(session, "Build the Q3 sales report")
    assert [p.message for p in of_type(events, ToolProgress)] == list(reports.STAGES)
    (finished,) = of_type(events, ToolCallFinished)
    assert not finished.is_error and '"quarter":"Q3"' in finished.output
    progress_at = events.index(of_type(events, ToolProgress)[-1])
    assert progress_at < events.index(finished)  # progress arrived while the tool ran
    spoken = [done.text for done in of_type(events, TranscriptDone)]
    assert spoken[-1] == "The Q3 report is ready: revenue up 8.5 percent."
    assert PROGRESS_TEXT in spoken  # the model was asked to voice progress while the tool ran


async def test_barge_in_cancels_the_running_report() -> None:
    endless = reports.ReportDeps(stage_seconds=10 * TIMEOUT)  # only the barge-in ends it
    async with simulated_session(reports, deps=endless, options=reports.options) as (session, sim):
        await session.send_text("Build the Q3 sales report")
        events = await asyncio.wait_for(_talk_over_the_report(session), TIMEOUT)
    (cancelled,) = of_type(events, ToolCallFinished)
    assert cancelled.error_type == "cancelled" and "interrupted" in cancelled.output
    assert len(of_type(events, Interrupted)) == 1
    final = of_type(events, TranscriptDone)[-1].text
    assert final == "Okay, I stopped the report. What would you like instead?"
    types = [event["type"] for event in sim.received]
    assert "conversation.item.truncate" in types  # the unheard part of the announcement is cut
    # No follow-up for the cancelled round: only the user's own request asked for a response.
    assert types.count("response.create") == 1


async def _talk_over_the_report(session: Session) -> list[Event]:
    """Speak over the report at its first progress message; stop when the answer is done."""
    events: list[Event] = []
    interrupted = False
    async for event in session:
        events.append(event)
        if isinstance(event, ToolProgress) and len(of_type(events, ToolProgress)) == 1:
            await session.send_audio(speech(400) + silence(700))
        interrupted = interrupted or isinstance(event, Interrupted)
        if isinstance(event, ResponseFinished) and interrupted and session.idle:
            return events
    return events
