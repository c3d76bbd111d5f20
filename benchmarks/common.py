"""Helpers shared by the benchmark processes: file limits, memory readings, statistics."""

from __future__ import annotations

import math
import os
import resource
import statistics


def raise_open_files() -> None:
    """Lift the soft limit on open files to the hard one: 1,000 sessions need 1,000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


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
