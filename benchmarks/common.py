"""Helpers shared by the benchmark processes: file limits, memory readings, statistics."""

from __future__ import annotations

import asyncio
import gc
import math
import os
import resource
import statistics
import time
from collections.abc import Callable
from multiprocessing.context import SpawnContext
from typing import Any

PIN_ENV = "AGENTKIT_BENCH_PIN"
"""Set to ``0`` (``run.py --no-pin``) to let the scheduler place the processes."""


def raise_open_files() -> None:
    """Lift the soft limit on open files to the hard one: 1,000 sessions need 1,000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pin_to_cpu(index: int) -> None:
    """Keep this process on one CPU (of those it may use), when there are two or more.

    The server gets the first CPU and the client under test the second, so that the two never
    compete for a core and every run places them alike: without it, whether the scheduler puts
    them on the same core or not changes the round trips by more than the clients differ.
    """
    if os.environ.get(PIN_ENV) == "0":
        return
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})


def rss_bytes() -> int:
    """The resident set size of this process, from ``/proc`` (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` of 0.99 is p99)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


class GcPauses:
    """Records how long each garbage collection stopped the process, per generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def summary(self) -> dict[str, float]:
        every = [pause for pauses in self.pauses.values() for pause in pauses]
        return {
            "collections": len(every),
            "full_collections": len(self.pauses[2]),
            "total_ms": sum(every) * 1000,
            "max_ms": max(every, default=0.0) * 1000,
        }


async def loop_lags(stop: asyncio.Event, interval: float = 0.005) -> list[float]:
    """How late each ``interval`` tick of the event loop ran, in seconds, until ``stop``."""
    loop, lags = asyncio.get_running_loop(), []
    while not stop.is_set():
        planned = loop.time() + interval
        await asyncio.sleep(interval)
        lags.append(loop.time() - planned)
    return lags


def figures_from_process(
    ctx: SpawnContext, target: Callable[..., None], args: tuple[Any, ...], label: str, wait: float
) -> Any:
    """Run ``target(*args, sender)`` in a fresh process; return the figures it sends back.

    Raises ``RuntimeError`` if nothing arrives within ``wait`` seconds or the figures carry an
    ``"error"``; the process is always reaped.
    """
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(*args, sender))
    process.start()
    sender.close()
    try:
        if not receiver.poll(wait):
            raise RuntimeError(f"{label}: no answer within {wait:g} s")
        figures = receiver.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
    if "error" in figures:
        raise RuntimeError(f"{label} failed: {figures['error']}")
    return figures
