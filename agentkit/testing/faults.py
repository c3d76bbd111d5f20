"""Fault injection: how a test makes the simulated service misbehave.

Rules are armed on :attr:`Simulator.faults <agentkit.testing.Simulator.faults>` and fire on the
next connection that meets them (``times`` connections, then they are spent). Dropping a socket
with ``code=None`` aborts TCP without a close frame (the client sees 1006); a code sends a close
frame with that code and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Drop", "Faults", "HandshakeRefusal"]


@dataclass
class Drop:
    """End the socket once a connection has sent events matching this rule."""

    after_events: int | None = None
    after_type: str | None = None
    type_count: int = 1
    code: int | None = None
    reason: str = ""
    times: int = 1

    def fires(self, sent_types: list[str]) -> bool:
        """Whether the events sent so far on a connection trigger the drop."""
        if self.after_events is not None:
            return len(sent_types) >= self.after_events
        return sent_types.count(str(self.after_type)) >= self.type_count


@dataclass
class HandshakeRefusal:
    """Answer the next handshake(s) with an HTTP status instead of upgrading."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    times: int = 1


@dataclass
class _Delay:
    seconds: float
    event_type: str | None


class Faults:
    """The armed faults; methods return ``self`` so several can be chained."""

    def __init__(self) -> None:
        self.drops: list[Drop] = []
        self.refusals: list[HandshakeRefusal] = []
        self.delays: list[_Delay] = []

    def drop_after(
        self, events: int, *, code: int | None = None, reason: str = "", times: int = 1
    ) -> Faults:
        """Drop the socket right after the connection's ``events``-th server event."""
        self.drops.append(Drop(after_events=events, code=code, reason=reason, times=times))
        return self

    def drop_after_event(
        self,
        event_type: str,
        *,
        count: int = 1,
        code: int | None = None,
        reason: str = "",
        times: int = 1,
    ) -> Faults:
        """Drop the socket right after the ``count``-th server event of ``event_type``."""
        rule = Drop(after_type=event_type, type_count=count, code=code, reason=reason, times=times)
        self.drops.append(rule)
        return self

    def drop_during_response(
        self, *, code: int | None = None, reason: str = "", times: int = 1
    ) -> Faults:
        """Drop the socket mid-response (right after ``response.output_item.added``)."""
        return self.drop_after_event(
            "response.output_item.added", code=code, reason=reason, times=times
        )

    def delay(self, seconds: float, event_type: str | None = None) -> Faults:
        """Hold every server event (or those of ``event_type``) for ``seconds`` before sending."""
        self.delays.append(_Delay(seconds, event_type))
        return self

    def refuse_handshake(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: str = "",
        times: int = 1,
    ) -> Faults:
        """Refuse the next ``times`` handshakes with ``status`` (429 + ``Retry-After``, 503...)."""
        self.refusals.append(HandshakeRefusal(status, dict(headers or {}), body, times))
        return self

    def clear(self) -> Faults:
        """Disarm everything."""
        self.drops.clear()
        self.refusals.clear()
        self.delays.clear()
        return self

    # -- used by the server -------------------------------------------------------------

    def take_refusal(self) -> HandshakeRefusal | None:
        """The refusal to apply to this handshake, spending one use of it."""
        return _spend(self.refusals)

    def take_drop(self, sent_types: list[str]) -> Drop | None:
        """The drop rule the events sent so far trigger, spending one use of it."""
        fired = [rule for rule in self.drops if rule.fires(sent_types)]
        return _spend(fired, self.drops)

    def delay_for(self, event: Mapping[str, Any]) -> float:
        """Seconds to wait before sending ``event``."""
        return sum(d.seconds for d in self.delays if d.event_type in (None, event.get("type")))


_Rule = TypeVar("_Rule", Drop, HandshakeRefusal)


def _spend(candidates: list[_Rule], owner: list[_Rule] | None = None) -> _Rule | None:
    if not candidates:
        return None
    rule = candidates[0]
    rule.times -= 1
    if rule.times <= 0:
        (owner if owner is not None else candidates).remove(rule)
    return rule
