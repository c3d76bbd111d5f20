"""Where a tool round trip's time goes, for each client. Run by hand.

    .venv/bin/python benchmarks/critical_path.py              # about 15 s
    .venv/bin/python benchmarks/critical_path.py --calls 5000 --repeats 3
    .venv/bin/python benchmarks/critical_path.py --calls 600 --pause-ms 10 --tool def

``run.py`` gives the round trip as the server sees it. This splits it, per round, with
``time.perf_counter_ns()`` stamps taken in both processes (on Linux it reads CLOCK_MONOTONIC,
one clock for the whole machine):

    server write   the server writing ``response.done``
    to the read    from the start of that write until the client's connection gets the chunk
                   holding it (``data_received``); it grows when the client is still busy with
                   earlier frames of the round (``response.created``, the acknowledgement)
    client         from that read until the client's last write of its two replies returns:
                   the client's critical path, parsing, deciding and writing
    last write     of which that last write: long when the kernel wakes the server inside
                   it, short when an earlier write has already done so
    back           from that write until the server has both replies
    total          the server's round trip, as ``run.py`` reports it

A second line per client splits the rounds by how ``response.done`` reached the client: in one
chunk with the round's first two frames (``response.created``, ``response.output_item.done``),
with the second only, or alone. It comes alone when the client was awake, still busy with the
previous round, as the round began: it then reads the first frames at once, and
``response.done`` waits until they are handled (for agentkit, that includes running the tool).
The share of such rounds changes from one run to the next, and with it the median total.

The client runs in this process, pinned like ``run.py``'s clients; the stamps come from
wrapping ``data_received`` and the socket transport's ``write``, which costs a microsecond or
two per round. Medians over all rounds but the first 100.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time
from asyncio import selector_events
from typing import Any

import clients
from common import median, pin_to_cpu
from server import serving
from websockets.asyncio.connection import Connection

from agentkit._connection import DirectConnection

_MARK = b'"response.done"'
_FIRST_FRAMES = ((b'"response.created"', "created+"), (b'"response.output_item.done"', "item+"))


class _Stamps:
    """Read times of chunks holding ``response.done`` and what else they held, and the end of
    every socket write."""

    def __init__(self) -> None:
        self.reads: list[int] = []
        self.chunks: list[str] = []
        self.write_starts: list[int] = []
        self.writes: list[int] = []

    def install(self) -> None:
        def stamped_read(original: Any) -> Any:
            def data_received(connection: Any, data: bytes) -> None:
                if _MARK in data:
                    self.reads.append(time.perf_counter_ns())
                    held = "".join(label for mark, label in _FIRST_FRAMES if mark in data)
                    self.chunks.append(held + "done")
                original(connection, data)

            return data_received

        for cls in (Connection, DirectConnection):
            cls.data_received = stamped_read(cls.__dict__["data_received"])  # type: ignore[method-assign]
        original_write = selector_events._SelectorSocketTransport.write

        def write(transport: Any, data: Any) -> None:
            self.write_starts.append(time.perf_counter_ns())
            original_write(transport, data)
            self.writes.append(time.perf_counter_ns())

        selector_events._SelectorSocketTransport.write = write  # type: ignore[method-assign]


def split(
    stamps: _Stamps, rounds: list[tuple[int, int, int]]
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The medians, in microseconds, of each part of the rounds after the first 100; and
    those rounds' totals by what the chunk holding ``response.done`` held."""
    parts: dict[str, list[float]] = {
        "server write": [],
        "to the read": [],
        "client": [],
        "last write": [],
        "back": [],
        "total": [],
    }
    by_chunk: dict[str, list[float]] = {"created+item+done": [], "item+done": [], "done": []}
    for before, after, replied in rounds[100:]:
        index = bisect.bisect_left(stamps.reads, before)
        read = stamps.reads[index]
        by_chunk.setdefault(stamps.chunks[index], []).append((replied - before) / 1000)
        last = bisect.bisect_right(stamps.writes, replied) - 1
        written = stamps.writes[last]
        for name, value in (
            ("server write", after - before),
            ("to the read", read - before),
            ("client", written - read),
            ("last write", written - stamps.write_starts[last]),
            ("back", replied - written),
            ("total", replied - before),
        ):
            parts[name].append(value / 1000)
    return {name: median(values) for name, values in parts.items()}, by_chunk


def measure(
    kind: str, calls: int, pause: float, tool: str
) -> tuple[dict[str, float], dict[str, list[float]]]:
    stamps = _Stamps()
    stamps.install()
    with serving() as (_, port, results):
        pin_to_cpu(1)  # after the server started: it would inherit the affinity
        path = f"/roundtrip?calls={calls}&tag={kind}&stamps=1&pause={pause:g}"
        asyncio.run(clients.roundtrip(kind, f"ws://127.0.0.1:{port}{path}", {"tool": tool}))
        found: dict[str, Any] = {}
        while f"stamps-{kind}" not in found:
            tag, values = results.get(timeout=60)
            found[tag] = values
    return split(stamps, found[f"stamps-{kind}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2, help="runs per client, alternating")
    parser.add_argument("--client", choices=("bare", "agentkit"), help="this client alone")
    parser.add_argument("--pause-ms", type=float, default=0, help="between rounds (paced)")
    parser.add_argument("--tool", choices=tuple(clients.TOOLS), default="async")
    args = parser.parse_args(argv)
    if args.client is None:  # each run in a fresh interpreter: the wrappers stay out of the other
        import subprocess

        for _ in range(args.repeats):
            for kind in ("bare", "agentkit"):
                options = ["--calls", str(args.calls), "--pause-ms", str(args.pause_ms)]
                options += ["--tool", args.tool, "--client", kind]
                subprocess.run([sys.executable, __file__, *options], check=True)
        return 0
    figures, by_chunk = measure(args.client, args.calls, args.pause_ms / 1000, args.tool)
    shown = "  ".join(f"{name} {value:6.1f}" for name, value in figures.items())
    print(f"{args.client:9s} us: {shown}", flush=True)
    count = sum(len(totals) for totals in by_chunk.values())
    shares = "  ".join(
        f"{chunk} {len(totals) / count:4.0%} total {median(totals) if totals else 0.0:6.1f}"
        for chunk, totals in by_chunk.items()
    )
    print(f"{'':9s}     response.done read in: {shares}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
