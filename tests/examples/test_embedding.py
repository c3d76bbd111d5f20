"""examples/embedding.py: sessions started by a job worker, in its loop and its trace context."""

from __future__ import annotations

import asyncio

from agentkit import Endpoint
from agentkit.testing import Simulator
from tests.examples.helpers import load_example
from tests.support import TIMEOUT

embedding = load_example("embedding")


async def test_two_jobs_run_concurrently_in_the_callers_loop() -> None:
    jobs: asyncio.Queue[object] = asyncio.Queue()
    jobs.put_nowait(embedding.Job("a", "Balance of account 7?", embedding.traceparent(0xA1, 1)))
    jobs.put_nowait(embedding.Job("b", "Balance of account 12?", embedding.traceparent(0xB2, 2)))
    async with Simulator(embedding.scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        worker = embedding.JobWorker(endpoint, concurrency=2, latency_s=0.3)
        results = await asyncio.wait_for(worker.run(jobs), TIMEOUT)
        assert len(sim.connections) == 2  # one session (socket) per job
    by_id = {result.job_id: result for result in results}
    a, b = by_id["a"], by_id["b"]
    assert a.answer == "Account 7 holds 1520.75 EUR."
    assert b.answer == "Account 12 holds -80.00 EUR."
    assert a.started < b.finished and b.started < a.finished  # the two jobs overlapped
    assert a.loop_id == b.loop_id == id(asyncio.get_running_loop())
    # Each job continued its own trace, and its tool ran inside it.
    assert a.trace_id == f"{0xA1:032x}" and a.tool_traces == {"get_balance": a.trace_id}
    assert b.trace_id == f"{0xB2:032x}" and b.tool_traces == {"get_balance": b.trace_id}
