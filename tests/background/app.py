"""The Celery application the background tests run: workers import it with ``-A``.

The Redis URL comes from ``AGENTKIT_TEST_REDIS_URL`` (set by the tests for their workers).
The visibility timeout is short so that a killed worker's job is handed out again quickly;
tools here finish well within it (``AGENTKIT_TEST_VISIBILITY_TIMEOUT`` sets another).
"""

from __future__ import annotations

import asyncio
import os

import redis
from celery import Celery

from agentkit import Agent, ToolContext, tool
from agentkit.background.celery import CeleryRunner

URL = os.environ.get("AGENTKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
VISIBILITY_TIMEOUT = float(os.environ.get("AGENTKIT_TEST_VISIBILITY_TIMEOUT", "3"))

app = Celery("agentkit-background-tests", broker=URL)
app.conf.update(
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 0.5,
        "unacked_restore_throttle": 1,
    },
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
runner = CeleryRunner(app, URL)


def configure(url: str) -> None:
    """Point the test process's app and runner at ``url`` (workers read the env var)."""
    app.conf.broker_url = url
    runner.redis_url = url


@tool(background=runner)
async def build_report(quarter: str, ctx: ToolContext, seconds: float = 1.0) -> dict[str, object]:
    """Build the sales report of a quarter; it takes a while.

    Args:
        quarter: Q1 to Q4.
        seconds: how long the work takes.
    """
    counter = redis.Redis.from_url(runner.redis_url)
    counter.incr(f"test:runs:{ctx.call_id}")  # how many times a worker started this call
    counter.close()
    await ctx.report_progress(f"collecting the {quarter} figures")
    await asyncio.sleep(seconds)
    return {"quarter": quarter, "revenue_eur": 1_250_000}


@tool(background=runner)
async def long_report(quarter: str, ctx: ToolContext, seconds: float = 3.0) -> dict[str, object]:
    """Build a long report; counts its runs in Redis for the multi-process test.

    Args:
        quarter: Q1 to Q4.
        seconds: how long the work takes.
    """
    counter = redis.Redis.from_url(runner.redis_url)
    pid = str(os.getpid())
    try:
        counter.hincrby("mp:started", ctx.call_id, 1)
        counter.sadd(f"mp:running:{pid}", ctx.call_id)
        await ctx.report_progress(f"collecting the {quarter} figures")
        await asyncio.sleep(seconds)
        counter.hincrby("mp:finished", ctx.call_id, 1)
        counter.srem(f"mp:running:{pid}", ctx.call_id)
    finally:
        counter.close()
    return {"quarter": quarter, "revenue_eur": 1_250_000}


@tool(background=runner)
def broken_report(quarter: str) -> str:
    """A report whose data source is down.

    Args:
        quarter: Q1 to Q4.
    """
    raise RuntimeError(f"the {quarter} data source is down")


agent = Agent(
    name="reports",
    instructions="You build sales reports in the background.",
    tools=[build_report],
    modality="text",
    turn_detection=None,
)
