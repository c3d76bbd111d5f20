"""The metric instruments of agentkit's tracing, one set per meter provider, and the token
totals an asynchronous counter reports."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Counter, Histogram, MeterProvider, Observation
from opentelemetry.util.types import AttributeValue

__all__ = ["SCOPE", "VERSION", "ChatMeasured", "Instruments", "TokenTotals", "instruments"]

SCOPE = "agentkit"
VERSION = "0.1.0"
TOKEN_TYPE = "gen_ai.token.type"
TOKEN_DETAIL = "agentkit.token.detail"
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)


class Total:
    """One running total, and the attributes it is reported with."""

    __slots__ = ("attributes", "count")

    def __init__(self, attributes: dict[str, AttributeValue]) -> None:
        self.attributes = attributes
        self.count: float = 0


class TokenTotals:
    """Cumulative token counts by attribute set, reported through an asynchronous counter.

    A synchronous ``Counter.add`` costs about 9 µs in the Python SDK and a response has up to
    five token details; a session adds to a :class:`Total` it looked up once (no hashing per
    add), and the SDK reads the totals only when it collects (possibly from its exporter
    thread: the callback reads a snapshot).
    """

    __slots__ = ("_totals",)

    def __init__(self) -> None:
        self._totals: dict[tuple[tuple[str, AttributeValue], ...], Total] = {}

    def total(self, key: tuple[tuple[str, AttributeValue], ...]) -> Total:
        """The total for this attribute set, shared by every session that counts it."""
        found = self._totals.get(key)
        if found is None:
            found = self._totals[key] = Total(dict(key))
        return found

    def observe(self, options: CallbackOptions) -> Iterator[Observation]:
        for total in list(self._totals.values()):
            if total.count:
                yield Observation(total.count, total.attributes)


@dataclass(frozen=True, slots=True)
class Instruments:
    operation_duration: Histogram
    time_to_first_chunk: Histogram
    time_to_first_audio: Histogram
    token_usage: Histogram
    tokens: TokenTotals
    cost: TokenTotals
    tool_duration: Histogram
    reconnects: Counter


_BY_PROVIDER: weakref.WeakKeyDictionary[MeterProvider, Instruments] = weakref.WeakKeyDictionary()


def instruments(provider: MeterProvider) -> Instruments:
    """One set of instruments per meter provider, shared by its sessions."""
    cached = _BY_PROVIDER.get(provider)
    if cached is not None:
        return cached
    meter = provider.get_meter(SCOPE, VERSION)
    seconds = {"unit": "s", "explicit_bucket_boundaries_advisory": DURATION_BUCKETS}
    token_totals = TokenTotals()
    meter.create_observable_counter(
        "agentkit.tokens",
        callbacks=[token_totals.observe],
        unit="{token}",
        description="Tokens by type and detail (text, audio; cached is part of input).",
    )
    cost_totals = TokenTotals()
    meter.create_observable_counter(
        "agentkit.cost",
        callbacks=[cost_totals.observe],
        unit="USD",
        description="Estimated cost of responses, at the rates of SessionOptions.prices.",
    )
    made = Instruments(
        operation_duration=meter.create_histogram(
            "gen_ai.client.operation.duration",
            description="A response: its request (or its start) to response.done.",
            **seconds,  # type: ignore[arg-type]
        ),
        time_to_first_chunk=meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            description="A response's request to its first audio or text delta.",
            **seconds,  # type: ignore[arg-type]
        ),
        time_to_first_audio=meter.create_histogram(
            "agentkit.response.time_to_first_audio",
            description="A response's request to its first audio delta.",
            **seconds,  # type: ignore[arg-type]
        ),
        token_usage=meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Input and output tokens per response.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        ),
        tokens=token_totals,
        cost=cost_totals,
        tool_duration=meter.create_histogram(
            "gen_ai.execute_tool.duration",
            description="A tool execution, from its task's start to its output.",
            **seconds,  # type: ignore[arg-type]
        ),
        reconnects=meter.create_counter(
            "agentkit.reconnects",
            unit="{reconnection}",
            description="Reconnections, by outcome (reconnected, gave_up).",
        ),
    )
    _BY_PROVIDER[provider] = made
    return made


@dataclass(frozen=True, slots=True)
class ChatMeasured:
    """The metric attributes of a session's responses, built once: by token type, and the
    keys of the token totals by ``type.detail``."""

    chat: dict[str, AttributeValue]
    input: dict[str, AttributeValue]
    output: dict[str, AttributeValue]
    details: dict[str, Total]
    cost: Total

    @classmethod
    def of(
        cls, chat: dict[str, AttributeValue], totals: TokenTotals, costs: TokenTotals
    ) -> ChatMeasured:
        base = tuple(chat.items())
        details = {
            f"{token_type}.{detail}": totals.total(
                (*base, (TOKEN_TYPE, token_type), (TOKEN_DETAIL, detail))
            )
            for token_type, detail in (
                ("input", "cached"),
                ("input", "text"),
                ("input", "audio"),
                ("output", "text"),
                ("output", "audio"),
            )
        }
        inputs, outputs = {**chat, TOKEN_TYPE: "input"}, {**chat, TOKEN_TYPE: "output"}
        return cls(chat, inputs, outputs, details, costs.total(base))
