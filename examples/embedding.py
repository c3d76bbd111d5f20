"""Embedding: agents started from inside an existing asyncio service, one session per job.

A ``Session`` owns no event loop and no global state, so a service that already runs asyncio (a
job worker here; an HTTP handler is the same) opens one per job on its own loop. Each job runs
under an OpenTelemetry span that continues the trace the job arrived with (its ``traceparent``),
and the tools see that trace context because the session's tasks inherit the caller's context.
Only ``opentelemetry-api`` is needed; with an SDK configured, the spans are exported as usual.

    python examples/embedding.py                       # three jobs, two at a time, simulator
    agentkit run examples/embedding.py --simulate --say "What is the balance of account 7?"
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry import propagate, trace

from agentkit import Agent, Endpoint, Session, ToolContext, tool
from agentkit.events import ResponseFinished, SessionClosed, TranscriptDone
from agentkit.testing import Scenario, Simulator

tracer = trace.get_tracer("examples.embedding")

_BALANCES = {"7": 1520.75, "12": -80.0, "31": 0.0}


@dataclass(frozen=True)
class JobDeps:
    """What the worker hands the tools of one job."""

    job_id: str
    latency_s: float = 0.2
    seen_traces: dict[str, str] = field(default_factory=dict)  # tool -> trace id (for the demo)


@tool
async def get_balance(account: str, ctx: ToolContext[JobDeps]) -> dict[str, object]:
    """The balance of a bank account.

    Args:
        account: the account number.
    """
    span = trace.get_current_span().get_span_context()
    if ctx.deps is not None:
        ctx.deps.seen_traces["get_balance"] = format(span.trace_id, "032x")
        await asyncio.sleep(ctx.deps.latency_s)  # a slow core-banking call
    return {"account": account, "balance_eur": _BALANCES.get(account, 0.0)}


agent = Agent(
    name="accounts",
    instructions="You answer questions about bank accounts with get_balance. One sentence.",
    tools=[get_balance],
)

scenario = (
    Scenario()
    .on("balance")
    .call("get_balance", lambda out: {"account": _account_in(out.user_text)})
    .say(
        lambda out: (
            f"Account {out['get_balance']['account']} holds "
            f"{out['get_balance']['balance_eur']:.2f} EUR."
        )
    )
    .otherwise("I can tell you the balance of an account.")
)


def _account_in(text: str) -> str:
    digits = "".join(ch if ch.isdigit() else " " for ch in text).split()
    return digits[-1] if digits else "0"


@dataclass(frozen=True)
class Job:
    """A unit of work from the queue; ``carrier`` holds the W3C trace headers it arrived with."""

    job_id: str
    question: str
    carrier: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    job_id: str
    answer: str
    trace_id: str
    started: float
    finished: float
    loop_id: int
    tool_traces: Mapping[str, str]


class JobWorker:
    """Takes jobs from a queue and answers each with its own session, ``concurrency`` at a time.

    Args:
        endpoint: where the sessions connect (shared; each session opens its own socket).
        concurrency: jobs in flight at once.
        latency_s: how slow the pretend banking back end is.
    """

    def __init__(self, endpoint: Endpoint, *, concurrency: int = 2, latency_s: float = 0.2) -> None:
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.latency_s = latency_s
        self.results: list[JobResult] = []

    async def run(self, jobs: asyncio.Queue[Job]) -> list[JobResult]:
        """Work until the queue is empty (Python 3.10 has no TaskGroup: consumers are gathered)."""
        await asyncio.gather(*(self._consume(jobs) for _ in range(self.concurrency)))
        return self.results

    async def _consume(self, jobs: asyncio.Queue[Job]) -> None:
        while not jobs.empty():
            job = jobs.get_nowait()
            try:
                self.results.append(await self.handle(job))
            finally:
                jobs.task_done()

    async def handle(self, job: Job) -> JobResult:
        """One job: a span continuing the job's trace, and a session inside it."""
        parent = propagate.extract(job.carrier)
        with tracer.start_as_current_span(f"job {job.job_id}", context=parent) as span:
            started = time.monotonic()
            deps = JobDeps(job.job_id, self.latency_s)
            async with Session(agent, self.endpoint, deps=deps) as session:
                await session.send_text(job.question)
                answer = await _final_text(session)
            return JobResult(
                job_id=job.job_id,
                answer=answer,
                trace_id=format(span.get_span_context().trace_id, "032x"),
                started=started,
                finished=time.monotonic(),
                loop_id=id(asyncio.get_running_loop()),
                tool_traces=dict(deps.seen_traces),
            )


async def _final_text(session: Session) -> str:
    """The assistant's words once it has nothing left to do (tool rounds included)."""
    words: list[str] = []
    async for event in session:
        if isinstance(event, TranscriptDone):
            words.append(event.text)
        elif isinstance(event, ResponseFinished) and session.idle:
            break
        elif isinstance(event, SessionClosed):
            raise RuntimeError(f"session closed: {event.reason}")
    return " ".join(words)


def traceparent(trace_id: int, span_id: int) -> dict[str, str]:
    """W3C trace headers, as a job queue would carry them."""
    return {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-01"}


async def main() -> None:
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        jobs: asyncio.Queue[Job] = asyncio.Queue()
        for number, account in enumerate(("7", "12", "31"), start=1):
            question = f"What is the balance of account {account}?"
            jobs.put_nowait(Job(f"job-{number}", question, traceparent(number, number)))
        for result in await JobWorker(endpoint, concurrency=2).run(jobs):
            print(f"{result.job_id} (trace {result.trace_id[-4:]}): {result.answer}")


if __name__ == "__main__":
    asyncio.run(main())
