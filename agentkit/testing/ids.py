"""Deterministic identifiers for simulated sessions, items, responses and events."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator

__all__ = ["IdFactory"]


class IdFactory:
    """Hands out ids like ``item_sim003``; one factory per connection keeps runs reproducible.

    Args:
        tag: inserted after the prefix so ids from different connections never collide.
    """

    def __init__(self, tag: str = "sim") -> None:
        self._tag = tag
        self._counters: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))

    def new(self, prefix: str) -> str:
        """Return the next id for ``prefix`` (``event``, ``item``, ``resp``, ``call``...)."""
        return f"{prefix}_{self._tag}{next(self._counters[prefix]):03d}"
