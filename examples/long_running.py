"""A long-running tool: progress while it works, and barge-in that interrupts it.

``build_report`` takes a while. It calls ``ctx.report_progress(...)`` at each stage: the
application sees a ``ToolProgress`` event (``agentkit run`` prints ``.. build_report: ...``) and,
while nothing else is being said, the model is asked to tell the user in one sentence.
The session keeps reading events meanwhile, so the user can speak over it: with
``interrupt_policy="cancel"`` the barge-in cancels the running report (its output says
``cancelled``, and no follow-up response is asked for, since the user has the floor).

    agentkit run examples/long_running.py --simulate --say "Build the Q3 sales report"

Barge-in needs speech: see ``tests/examples/test_long_running.py``, which speaks over the
report with the simulator's server VAD, or run ``python examples/long_running.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from agentkit import Agent, Endpoint, Session, SessionOptions, ToolContext, tool
from agentkit.events import (
    Interrupted,
    ResponseFinished,
    ToolCallFinished,
    ToolCallStarted,
    ToolProgress,
    TranscriptDone,
)
from agentkit.testing import Scenario, Simulator, ToolOutputs, silence, speech

STAGES = ("collecting the sales figures", "comparing with last year", "drawing the charts")


@dataclass(frozen=True)
class ReportDeps:
    """How long each stage takes (the tests make it short, or endless)."""

    stage_seconds: float = 1.0


@tool(timeout=120)
async def build_report(
    quarter: Literal["Q1", "Q2", "Q3", "Q4"], ctx: ToolContext[ReportDeps]
) -> dict[str, object]:
    """Build the sales report for a quarter. It takes several seconds: tell the user it is coming.

    Args:
        quarter: which quarter of this year.
    """
    for stage in STAGES:
        await ctx.report_progress(stage)
        await asyncio.sleep(ctx.deps.stage_seconds)
    return {"quarter": quarter, "revenue_eur": 1_250_000, "growth_pct": 8.5, "pages": 12}


agent = Agent(
    name="reports",
    instructions=(
        "You build sales reports. Reports take a while: say so, then call build_report. "
        "If the user interrupts, stop and ask what they want instead."
    ),
    tools=[build_report],
)

deps = ReportDeps()
# "cancel": a barge-in cancels running tools (the default, "finish", lets them finish quietly).
# Progress is spoken (speak_progress defaults to on): when nothing else is being said, the model
# is asked to tell the user the stage the tool reported.
options = SessionOptions(interrupt_policy="cancel")


def _summary(out: ToolOutputs) -> str:
    report = out["build_report"]
    if "error" in report:
        return "The report was stopped."
    return f"The {report['quarter']} report is ready: revenue up {report['growth_pct']} percent."


scenario = (
    Scenario()
    .on("report")
    .say("Sure, I am building that report now; it takes a few seconds.")
    .call("build_report", quarter="Q3")
    .say(_summary)
    .on_audio()
    .say("Okay, I stopped the report. What would you like instead?")
    .otherwise("I can build the sales report of any quarter.")
)


async def main() -> None:
    """Ask for a report by voice-mode session, then talk over it at the first progress report."""
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        slow = ReportDeps(stage_seconds=5)
        async with Session(agent, endpoint, deps=slow, options=options) as session:
            await session.send_text("Build the Q3 sales report")
            interrupted = False
            async for event in session:
                if isinstance(event, ToolCallStarted):
                    print(f"-> {event.name}({event.arguments})")
                elif isinstance(event, ToolProgress) and not interrupted:
                    print(f".. {event.message}; now the user talks over it")
                    await session.send_audio(speech(400) + silence(700))
                elif isinstance(event, Interrupted):
                    interrupted = True
                    print("[interrupted]")
                elif isinstance(event, ToolCallFinished):
                    print(f"<- {event.name}: {event.output}")
                elif isinstance(event, TranscriptDone):
                    print(f"assistant: {event.text}")
                elif isinstance(event, ResponseFinished) and interrupted and session.idle:
                    break


if __name__ == "__main__":
    asyncio.run(main())
