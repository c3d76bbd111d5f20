"""What running a no-op tool costs per call, by kind of tool, in one process. Run by hand.

    .venv/bin/python benchmarks/tool_handoff.py              # about 20 s
    .venv/bin/python benchmarks/tool_handoff.py --calls 300 --no-pin

``Tool.invoke`` timed alone, without sockets or a session, for the tools of ``clients.TOOLS``
(``async def``, plain ``def`` in a worker thread, ``def`` with ``blocking=False`` on the loop) and,
for comparison, a ``def`` handed to ``asyncio.to_thread``. Calls run back to back, then paced
(``--pause-ms`` apart, as a conversation spaces them: the threads park and the caches cool
between calls), the kinds taking turns. The process is pinned to one CPU as ``run.py``'s clients
are, so the loop and the worker threads share it. Medians and quartiles, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from clients import NOOP_OUTPUT, TOOLS
from common import median, percentile, pin_to_cpu

from agentkit import tool


def _noop() -> str:
    return NOOP_OUTPUT


@tool(name="noop")
async def noop_to_thread() -> str:
    """A ``def`` handed to ``asyncio.to_thread``: the default executor's path."""
    return await asyncio.to_thread(_noop)


KINDS: dict[str, Any] = {**TOOLS, "asyncio.to_thread": noop_to_thread}


async def measure(calls: int, pause: float) -> dict[str, list[float]]:
    for each in KINDS.values():  # warm up: a parked worker, imports, caches
        for _ in range(20):
            await each.invoke("{}")
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(calls):
        for kind, each in KINDS.items():
            if pause:
                await asyncio.sleep(pause)
            start = time.perf_counter()
            result = await each.invoke("{}")
            times[kind].append((time.perf_counter() - start) * 1e6)
            if result.output != NOOP_OUTPUT:
                raise RuntimeError(f"{kind}: {result.output}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600, help="calls per kind and mode")
    parser.add_argument("--pause-ms", type=float, default=10)
    parser.add_argument("--no-pin", action="store_true", help="let the scheduler place threads")
    args = parser.parse_args(argv)
    if not args.no_pin:
        pin_to_cpu(1)
    for label, pause in (("back to back", 0.0), (f"paced {args.pause_ms:g} ms", args.pause_ms)):
        times = asyncio.run(measure(args.calls if pause else args.calls * 5, pause / 1000))
        print(f"{label}: us per call, median (p25-p75)")
        for kind, values in times.items():
            quartiles = f"{percentile(values, 0.25):.1f}-{percentile(values, 0.75):.1f}"
            print(f"  {kind:18s} {median(values):7.1f}  ({quartiles})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
