"""agentkit beside a bare ``websockets`` client, on loopback. Run by hand; CI runs ``--smoke``.

    .venv/bin/python benchmarks/run.py            # the full run, five minutes or more
    .venv/bin/python benchmarks/run.py --quick    # smaller sizes, about 40 s
    .venv/bin/python benchmarks/run.py --smoke    # tiny sizes, no verdict: what CI runs

The benchmark server (``server.py``) runs in one process and each client (``clients.py``) in a
fresh process of its own, the same arrangement for both clients; the server times the tool round
trips, the clients time the audio stream and measure their memory. Tool rounds run back to back
and paced (``--pause-ms`` apart, as a conversation spaces them), with agentkit given an
``async def`` tool, a plain ``def`` tool, and a ``def`` tool declared ``blocking=False``.
Everything stays on 127.0.0.1 and every step has a timeout. See docs/performance.md for what each
figure means.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import queue
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue
from typing import Any

import websockets
from clients import run_client
from common import PIN_ENV, figures_from_process, median, percentile
from server import serving

KINDS = ("bare", "agentkit")
WINDOW = 100  # calls per window: 1-100 and the last 100


@dataclass
class Row:
    figure: str
    bare: float | None
    agentkit: float
    unit: str
    target: str = ""
    passed: bool | None = None
    ratio: float | None = None


@dataclass
class Bench:
    ctx: SpawnContext
    port: int
    results: Queue[Any]
    verbose: bool

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def client(self, kind: str, scenario: str, path: str, params: dict[str, Any]) -> Any:
        """Run one client scenario in a fresh process; its figures, or raise on failure."""
        timeout = params.setdefault("timeout", 120)
        args = (kind, scenario, self.url(path), params)
        return figures_from_process(self.ctx, run_client, args, f"{kind} {scenario}", timeout + 15)

    def server_results(self, tag: str, count: int, timeout: float) -> list[list[float]]:
        """The round-trip lists of ``count`` connections tagged ``tag``."""
        deadline, found = time.monotonic() + timeout, []
        while len(found) < count:
            try:
                got_tag, durations = self.results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{tag}: {len(found)} of {count} connections reported") from None
            if got_tag == tag:
                found.append(durations)
        return found

    def log(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stderr, flush=True)


@contextmanager
def bench_server(verbose: bool) -> Iterator[Bench]:
    with serving() as (ctx, port, results):
        yield Bench(ctx, port, results, verbose)


# -- the figures ---------------------------------------------------------------------------------


def ms(seconds: list[float]) -> list[float]:
    return [value * 1000 for value in seconds]


VARIANTS = {
    "bare": ("bare", ""),
    "async": ("agentkit", "async"),
    "def": ("agentkit", "def"),
    "def-nonblocking": ("agentkit", "def-nonblocking"),
}
"""The round-trip clients: the bare one and agentkit with each kind of tool (``clients.TOOLS``)."""

TOOL_LABELS = {
    "async": "`async def` tool",
    "def": "`def` tool",
    "def-nonblocking": "`def` tool, blocking=False",
}


@dataclass
class Conversations:
    """The server-timed round trips (ms) and client CPU (s per call) of each variant's runs."""

    durations: dict[str, list[list[float]]]
    cpu: dict[str, list[float]]

    def pooled(self, variant: str) -> list[float]:
        return [value for run in self.durations[variant] for value in run]


def conversations(
    bench: Bench, variants: list[str], calls: int, repeats: int, pause: float
) -> Conversations:
    """``repeats`` conversations of ``calls`` tool rounds per variant, ``pause`` seconds apart.

    The variants take turns, so that a noisy moment of the machine hits all of them alike.
    """
    found = Conversations({v: [] for v in variants}, {v: [] for v in variants})
    mode = f"paced {pause * 1000:g} ms" if pause else "back to back"
    for run in range(repeats):
        for variant in variants:
            kind, tool_kind = VARIANTS[variant]
            tag = f"rt-{variant}-{pause:g}-{run}"
            path = f"/roundtrip?calls={calls}&tag={tag}&pause={pause:g}"
            figures = bench.client(kind, "roundtrip", path, {"tool": tool_kind or "async"})
            found.cpu[variant].append(figures["cpu_seconds"] / calls)
            (durations,) = bench.server_results(tag, 1, 30 + calls * pause)
            found.durations[variant].append(ms(durations))
            bench.log(
                f"round trips {mode}, {variant} run {run + 1}: "
                f"median {median(ms(durations)):.3f} ms"
            )
    return found


def roundtrip_rows(bench: Bench, calls: int, repeats: int) -> list[Row]:
    """Rounds back to back: the ratio early and late in a long conversation, CPU, growth."""
    runs = conversations(bench, list(VARIANTS), calls, repeats, 0.0)
    windows = {
        variant: {
            "early": [value for run in runs.durations[variant] for value in run[:WINDOW]],
            "late": [value for run in runs.durations[variant] for value in run[-WINDOW:]],
        }
        for variant in ("bare", "async")
    }
    first, last = f"calls 1-{WINDOW}", f"calls {calls - WINDOW + 1}-{calls}"
    rows = []
    for window, label in (("early", first), ("late", last)):
        bare, agentkit = windows["bare"][window], windows["async"][window]
        rows.append(
            ratio_row(
                f"tool round trip, median, {label}", median(bare), median(agentkit), "ms", 1.3
            )
        )
        rows.append(
            Row(
                f"tool round trip, p99, {label}",
                percentile(bare, 0.99),
                percentile(agentkit, 0.99),
                "ms",
            )
        )
    bare_cpu, agentkit_cpu = (median(runs.cpu[variant]) * 1e6 for variant in ("bare", "async"))
    rows.append(
        Row(
            "client CPU per tool round trip (all calls)",
            bare_cpu,
            agentkit_cpu,
            "us",
            ratio=agentkit_cpu / bare_cpu,
        )
    )
    early, late = median(windows["async"]["early"]), median(windows["async"]["late"])
    growth = late / early
    rows.append(
        Row(
            f"agentkit median growth, {last} vs {first}",
            None,
            growth,
            "x",
            "<= 1.2x (flat)",
            growth <= 1.2,
        )
    )
    bare_all = median(runs.pooled("bare"))
    for variant in list(VARIANTS)[2:]:
        figure = f"tool round trip, median, all calls, {TOOL_LABELS[variant]}"
        rows.append(info_row(figure, bare_all, median(runs.pooled(variant)), "ms"))
    return rows


PACED_TARGETS = {"async": 1.3, "def": 1.5}
"""The paced round trip's limit per tool kind, as a multiple of the bare client's."""


def paced_rows(bench: Bench, calls: int, repeats: int, pause: float) -> list[Row]:
    """Rounds ``pause`` apart, as a conversation spaces them: the client idles between them."""
    runs = conversations(bench, list(VARIANTS), calls, repeats, pause)
    bare = median(runs.pooled("bare"))
    rows = []
    for variant in list(VARIANTS)[1:]:
        figure = f"paced round trip ({pause * 1000:g} ms apart), median, {TOOL_LABELS[variant]}"
        figure += _spread(runs.durations["bare"], runs.durations[variant])
        agentkit = median(runs.pooled(variant))
        limit = PACED_TARGETS.get(variant)
        rows.append(
            ratio_row(figure, bare, agentkit, "ms", limit)
            if limit is not None
            else info_row(figure, bare, agentkit, "ms")
        )
    return rows


def _spread(bare: list[list[float]], agentkit: list[list[float]]) -> str:
    """The ratio of each conversation to the bare one run just before it, lowest to highest:
    how far the VM moves the verdict (nothing for a single conversation)."""
    if len(bare) < 2:
        return ""
    ratios = sorted(divide(median(a), median(b)) for b, a in zip(bare, agentkit, strict=True))
    return f" (conversations {ratios[0]:.2f}-{ratios[-1]:.2f}x)"


def info_row(figure: str, bare: float, agentkit: float, unit: str) -> Row:
    return Row(figure, bare, agentkit, unit, "(information)", ratio=divide(agentkit, bare))


def ratio_row(figure: str, bare: float, agentkit: float, unit: str, limit: float) -> Row:
    ratio = divide(agentkit, bare)
    return Row(figure, bare, agentkit, unit, f"<= {limit}x bare", ratio <= limit, ratio)


def divide(agentkit: float, bare: float) -> float:
    """The ratio; a bare figure too small to measure (a tiny smoke run) reads as infinite."""
    return agentkit / bare if bare else math.inf


def audio_row(bench: Bench, count: int) -> Row:
    rates = {}
    for kind in KINDS:
        figures = bench.client(kind, "audio", f"/audio?n={count}", {"n": count, "repeats": 3})
        rates[kind] = median(figures["rates"])
        bench.log(f"audio {kind}: {', '.join(f'{r:,.0f}' for r in figures['rates'])} events/s")
    ratio = rates["agentkit"] / rates["bare"]
    return Row(
        f"audio stream, {count:,} deltas of 100 ms",
        rates["bare"],
        rates["agentkit"],
        "events/s",
        ">= 0.9x bare",
        ratio >= 0.9,
        ratio,
    )


def memory_rows(bench: Bench, sessions: int) -> list[Row]:
    rows = []
    for traced, label in ((True, "tracemalloc"), (False, "RSS")):
        per = {}
        for kind in KINDS:
            params = {"n": sessions, "tracemalloc": traced}
            per[kind] = bench.client(kind, "idle", "/idle", params)["bytes_per_session"] / 1024
        figure = f"memory per idle session ({label}, {sessions} sessions)"
        rows.append(ratio_row(figure, per["bare"], per["agentkit"], "KiB", 1.5))
    return rows


def load_rows(bench: Bench, sessions: int, seconds: int) -> list[Row]:
    figures: dict[str, list[float]] = {}
    client: dict[str, dict[str, Any]] = {}
    server_lag: dict[str, float] = {}
    for kind in KINDS:
        tag = f"load-{kind}"
        path = f"/load?rounds={seconds}&period=1&tag={tag}"
        params = {"n": sessions, "timeout": seconds + 90}
        client[kind] = bench.client(kind, "load", path, params)
        lists = bench.server_results(tag, sessions, 30)
        figures[kind] = ms([value for durations in lists for value in durations])
        (lags,) = bench.server_results("lag-" + tag, 1, 10)
        server_lag[kind] = percentile(ms(lags), 0.99)
        gc_ = client[kind]["gc"]
        bench.log(
            f"load {kind}: {len(figures[kind])} round trips, client CPU "
            f"{client[kind]['client_cpu']:.0%}, client loop lag p99 "
            f"{client[kind]['loop_lag_p99'] * 1000:.1f} ms max "
            f"{client[kind]['loop_lag_max'] * 1000:.1f} ms, {gc_['collections']} GCs "
            f"({gc_['full_collections']} full, max {gc_['max_ms']:.1f} ms, total "
            f"{gc_['total_ms']:.0f} ms); server loop lag p99 {server_lag[kind]:.1f} ms"
        )
    label = f"{sessions:,} sessions x 1 round trip/s, {seconds} s"
    bare, agentkit = figures["bare"], figures["agentkit"]
    p99 = percentile(agentkit, 0.99)
    cpu = {kind: client[kind]["client_cpu"] * 100 for kind in KINDS}
    lag = {kind: client[kind]["loop_lag_p99"] * 1000 for kind in KINDS}
    return [
        Row(f"{label}: p50", median(bare), median(agentkit), "ms"),
        Row(f"{label}: p99", percentile(bare, 0.99), p99, "ms", "< 10 ms", p99 < 10),
        Row(f"{label}: client CPU", cpu["bare"], cpu["agentkit"], "% of a core"),
        Row(f"{label}: client loop lag p99", lag["bare"], lag["agentkit"], "ms"),
        Row(f"{label}: server loop lag p99", server_lag["bare"], server_lag["agentkit"], "ms"),
    ]


# -- output --------------------------------------------------------------------------------------


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "events/s":
        return f"{value:,.0f}"
    return f"{value:.1f}" if unit in ("KiB", "% of a core", "us") else f"{value:.3f}"


def table(rows: list[Row]) -> str:
    header = ("figure", "unit", "bare", "agentkit", "ratio", "target", "result")
    lines = [header]
    for row in rows:
        verdict = "" if row.passed is None else ("PASS" if row.passed else "MISS")
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            (
                row.figure,
                row.unit,
                number(row.bare, row.unit),
                number(row.agentkit, row.unit),
                ratio,
                row.target,
                verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, every figure, exit 0 whatever they read (what CI runs)",
    )
    parser.add_argument("--calls", type=int, default=2000, help="tool rounds per conversation")
    parser.add_argument("--repeats", type=int, default=6, help="conversations per client")
    parser.add_argument("--paced-calls", type=int, default=500, help="rounds per paced one")
    parser.add_argument("--paced-repeats", type=int, default=3, help="paced ones per client")
    parser.add_argument("--pause-ms", type=float, default=10, help="between paced rounds")
    parser.add_argument("--audio-events", type=int, default=10_000)
    parser.add_argument("--idle-sessions", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=1000, help="concurrent sessions")
    parser.add_argument("--seconds", type=int, default=60, help="duration of the load run")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["roundtrip", "paced", "audio", "memory", "load"],
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the scheduler place server and client (default: one CPU each)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.repeats, args.audio_events = 300, 1, 2000
        args.paced_calls, args.paced_repeats = 100, 1
        args.idle_sessions, args.sessions, args.seconds = 50, 200, 5
    if args.smoke:
        args.calls, args.repeats, args.paced_calls, args.paced_repeats = 2 * WINDOW, 1, 20, 1
        args.audio_events, args.idle_sessions, args.sessions, args.seconds = 200, 20, 10, 1
    args.calls = max(args.calls, WINDOW)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.no_pin:
        os.environ[PIN_ENV] = "0"  # read by the spawned server and clients
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rows: list[Row] = []
    with bench_server(verbose=not args.quiet) as bench:
        if "roundtrip" not in args.skip:
            rows += roundtrip_rows(bench, args.calls, args.repeats)
        if "paced" not in args.skip:
            pause = args.pause_ms / 1000
            rows += paced_rows(bench, args.paced_calls, args.paced_repeats, pause)
        if "audio" not in args.skip:
            rows.append(audio_row(bench, args.audio_events))
        if "memory" not in args.skip:
            rows += memory_rows(bench, args.idle_sessions)
        if "load" not in args.skip:
            rows += load_rows(bench, args.sessions, args.seconds)
    print(
        f"Python {platform.python_version()}, websockets {websockets.__version__}, "
        f"{multiprocessing.cpu_count()} CPUs, {time.perf_counter() - started:.0f} s, "
        f"load average before/after {load_before:.2f}/{os.getloadavg()[0]:.2f} "
        "(other busy processes skew every figure)"
    )
    print(table(rows))
    return 0 if args.smoke or all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
