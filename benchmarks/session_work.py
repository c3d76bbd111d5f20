"""agentkit's own work per tool round, in one process, without sockets. Run by hand.

    .venv/bin/python benchmarks/session_work.py                # about 10 s
    .venv/bin/python benchmarks/session_work.py --sdk          # with an SDK tracer and meter
    .venv/bin/python benchmarks/session_work.py --profile 25   # and the 25 costliest functions

The round-trip figure of ``run.py`` moves with the VM's mood by tens of percent; this one moves
by a few. It feeds the benchmark server's frames for one round (``response.created``,
``response.output_item.done``, ``response.done``, then the output's ``conversation.item.added``)
to a started :class:`~agentkit.session.Session` through a transport that only counts what it is
sent, with an application consuming ``session.events()``. What it measures is everything
agentkit does per round (decoding, the state's decisions, application events, the tool task,
encoding the replies), without the websockets and socket work that the bare client pays too.
The collector is left on, as in an application.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from collections.abc import Sequence
from typing import Any

from clients import _AGENTS, agentkit_consume
from server import SESSION_UPDATED, _ack, _Round

from agentkit.agent import Agent
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session, SessionOptions


class CountingTransport:
    """Takes what the session sends; answers its ``session.update`` so that it starts."""

    def __init__(self) -> None:
        self.sent = 0
        self.closed = False
        self._next: asyncio.Future[str] | None = None

    async def send(self, data: str) -> None:
        self.sent += 1
        if data.startswith('{"type":"session.update"'):
            asyncio.get_running_loop().call_soon(self._deliver, SESSION_UPDATED)

    async def send_many(self, frames: Sequence[str]) -> None:
        self.sent += len(frames)

    async def recv(self) -> str:
        self._next = asyncio.get_running_loop().create_future()
        return await self._next

    def _deliver(self, frame: str) -> None:
        if self._next is not None and not self._next.done():
            self._next.set_result(frame)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = True


def _options(sdk: bool) -> SessionOptions:
    if not sdk:
        return SessionOptions(max_tool_rounds=10**9)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return SessionOptions(
        max_tool_rounds=10**9, tracer_provider=tracer_provider, meter_provider=meter_provider
    )


async def _rounds(session: Session, frames: list[tuple[str, ...]]) -> None:
    for created, item_done, done, ack in frames:
        for frame in (created, item_done, done):
            await session._on_frame(frame)
        for _ in range(3):  # the tool task, its replies, the application's consumer
            await asyncio.sleep(0)
        await session._on_frame(ack)


async def started_for_rounds(
    agent: Agent, transport: Any, options: SessionOptions
) -> tuple[Session, asyncio.Task[None]]:
    """A started session on ``transport``, an application consuming its events, in the state
    the benchmark's rounds expect: a response was asked for, and the rounds stand for its
    answer."""

    async def connector() -> Any:
        return transport

    session = Session(agent, connector=connector, dialect=Dialect.GA, options=options)
    await session.start()
    consumer = asyncio.create_task(agentkit_consume(session))
    await session.create_response()
    session.state.active_response_id = None
    session.state._inflight_create = None
    return session, consumer


async def measure(rounds: int, warmup: int, sdk: bool, profile: int) -> dict[str, Any]:
    transport = CountingTransport()
    session, consumer = await started_for_rounds(_AGENTS["async"], transport, _options(sdk))
    made = [_Round(number) for number in range(1, warmup + rounds + 1)]
    frames = [(r.created, r.item_done, r.done, _ack(r, "ok")) for r in made]
    await _rounds(session, frames[:warmup])
    sent_before = transport.sent
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    start = time.perf_counter()
    await _rounds(session, frames[warmup:])
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
    replies = transport.sent - sent_before
    consumer.cancel()
    await session.close()
    if replies != 2 * rounds:
        raise RuntimeError(f"expected {2 * rounds} replies, the session sent {replies}")
    return {"us_per_round": elapsed / rounds * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="fresh sessions, one after another")
    parser.add_argument("--sdk", action="store_true", help="with an SDK tracer and meter")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print N functions")
    args = parser.parse_args(argv)
    figures = [
        asyncio.run(measure(args.rounds, 500, args.sdk, args.profile))["us_per_round"]
        for _ in range(args.repeats)
    ]
    shown = ", ".join(f"{value:.1f}" for value in figures)
    print(f"agentkit's work per tool round{' (SDK)' if args.sdk else ''}: {shown} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
