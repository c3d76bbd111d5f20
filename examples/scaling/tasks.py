"""What both kinds of worker import: the Celery app, the runner, the background tool, the agent.

The Celery worker runs ``celery -A examples.scaling.tasks worker``; the agentkit workers import
the same module, so ``build_report`` is known on both sides by name.
"""

from __future__ import annotations

import asyncio
import os
from typing import Literal

from celery import Celery

from agentkit import Agent, ToolContext, tool
from agentkit.background.celery import CeleryRunner

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
REPORT_SECONDS = float(os.environ.get("REPORT_SECONDS", "6"))
STAGES = ("collecting the sales figures", "comparing with last year", "drawing the charts")

app = Celery("scaling-example", broker=REDIS_URL)
app.conf.update(
    broker_connection_retry_on_startup=True,
    # A job whose worker dies is handed out again after this; keep it above the longest tool.
    broker_transport_options={"visibility_timeout": 600},
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
runner = CeleryRunner(app, REDIS_URL)


@tool(background=runner)
async def build_report(
    quarter: Literal["Q1", "Q2", "Q3", "Q4"], ctx: ToolContext
) -> dict[str, object]:
    """Build the sales report of a quarter. It takes a while: tell the user it is coming.

    Args:
        quarter: which quarter of this year.
    """
    for stage in STAGES:
        await ctx.report_progress(stage)
        await asyncio.sleep(REPORT_SECONDS / len(STAGES))
    return {"quarter": quarter, "revenue_eur": 1_250_000, "growth_pct": 8.5}


agent = Agent(
    name="reports",
    instructions="You build sales reports. They take a while: say so, then call build_report.",
    tools=[build_report],
    modality="text",
    turn_detection=None,
)
