"""Token usage of responses, summed per session, and priced with the user's own price table.

Every ``response.done`` carries the tokens the service bills for that response. A
:class:`TokenUsage` holds them by kind (text, audio and image input, the cached part of each,
text and audio output) in plain integers, so a session can keep running totals and a
:class:`TokenPrices` can turn them into an estimate in US dollars. agentkit ships no prices:
they differ by model, by provider and over time, so the application supplies them (see
``docs/cost.md`` for an example table to copy).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentkit.endpoints import Endpoint
from agentkit.errors import ConfigurationError
from agentkit.protocol.events import Usage

__all__ = ["PriceTable", "TokenPrices", "TokenUsage", "UsageMeter", "endpoint_model"]

logger = logging.getLogger(__name__)

PER_TOKENS = 1_000_000
"""Prices are per this many tokens, as providers list them."""

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class TokenUsage(BaseModel):
    """Tokens of one response, or summed over several, by kind.

    Counts follow the service's report (the ``openai`` SDK's ``RealtimeResponseUsage``): the
    input counts include their cached part, and ``cached_tokens`` is the cached part of
    ``input_tokens``. A kind the service did not report counts 0.

    Attributes:
        input_tokens: every input token, cached or not, of every kind.
        output_tokens: every output token, text and audio.
        input_text_tokens: input text tokens (instructions, messages, transcripts, tools).
        input_audio_tokens: input audio tokens (the user's speech, earlier assistant audio).
        input_image_tokens: input image tokens.
        cached_tokens: the part of ``input_tokens`` read from the service's prompt cache.
        cached_text_tokens: the cached part of ``input_text_tokens``.
        cached_audio_tokens: the cached part of ``input_audio_tokens``.
        cached_image_tokens: the cached part of ``input_image_tokens``.
        output_text_tokens: output text tokens (text, audio transcripts, tool arguments).
        output_audio_tokens: output audio tokens.
        responses: how many responses these figures sum.
    """

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    input_image_tokens: int = 0
    cached_tokens: int = 0
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0
    cached_image_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    responses: int = 0

    @property
    def total_tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_wire(cls, usage: Usage) -> TokenUsage:
        """The usage a ``response.done`` reported, as one response's figures."""
        return cls._of(_counts(usage))

    @classmethod
    def _of(cls, counts: dict[str, int]) -> TokenUsage:
        """Takes ``counts`` (every field, trusted integers) as is, without validation: a
        session builds two of these per response, on the path of every tool round."""
        usage = _new(cls)
        _set(usage, "__dict__", counts)
        _set(usage, "__pydantic_fields_set__", set(_COUNTS))
        _set(usage, "__pydantic_extra__", None)
        _set(usage, "__pydantic_private__", None)
        return usage

    def __add__(self, other: TokenUsage) -> TokenUsage:
        if not isinstance(other, TokenUsage):
            return NotImplemented
        mine, theirs = self.__dict__, other.__dict__
        return TokenUsage._of({name: mine[name] + theirs[name] for name in _COUNTS})

    def billed(self) -> dict[str, int]:
        """Tokens by billed kind (the names of :class:`TokenPrices`' rates).

        Tokens the service did not split by kind are billed as text: input beyond the text,
        audio and image counts as ``input_text``, cached tokens beyond their split as
        ``cached_input_text``, output beyond text and audio as ``output_text``.
        """
        split_cache = self.cached_text_tokens + self.cached_audio_tokens + self.cached_image_tokens
        cached_text = self.cached_text_tokens + max(0, self.cached_tokens - split_cache)
        split_input = self.input_text_tokens + self.input_audio_tokens + self.input_image_tokens
        text = self.input_text_tokens + max(0, self.input_tokens - split_input)
        split_output = self.output_text_tokens + self.output_audio_tokens
        return {
            "input_text": max(0, text - cached_text),
            "cached_input_text": cached_text,
            "output_text": self.output_text_tokens + max(0, self.output_tokens - split_output),
            "input_audio": max(0, self.input_audio_tokens - self.cached_audio_tokens),
            "cached_input_audio": self.cached_audio_tokens,
            "output_audio": self.output_audio_tokens,
            "input_image": max(0, self.input_image_tokens - self.cached_image_tokens),
            "cached_input_image": self.cached_image_tokens,
        }


_COUNTS = tuple(TokenUsage.model_fields)
_set = object.__setattr__
_new = object.__new__


def _counts(usage: Usage) -> dict[str, int]:
    """A wire usage's figures by :class:`TokenUsage` field; a figure that is missing,
    negative or not an integer counts 0 (a missing total: the sum of its kinds)."""
    given = usage.input_token_details or _EMPTY
    cached = given.get("cached_tokens_details")
    cached = cached if type(cached) is dict else _EMPTY
    output = usage.output_token_details or _EMPTY
    text, audio = _int(given, "text_tokens"), _int(given, "audio_tokens")
    image = _int(given, "image_tokens")
    out_text, out_audio = _int(output, "text_tokens"), _int(output, "audio_tokens")
    total_in, total_out = usage.input_tokens, usage.output_tokens
    return {
        "input_tokens": total_in
        if type(total_in) is int and total_in >= 0
        else text + audio + image,
        "output_tokens": total_out
        if type(total_out) is int and total_out >= 0
        else out_text + out_audio,
        "input_text_tokens": text,
        "input_audio_tokens": audio,
        "input_image_tokens": image,
        "cached_tokens": _int(given, "cached_tokens"),
        "cached_text_tokens": _int(cached, "text_tokens"),
        "cached_audio_tokens": _int(cached, "audio_tokens"),
        "cached_image_tokens": _int(cached, "image_tokens"),
        "output_text_tokens": out_text,
        "output_audio_tokens": out_audio,
        "responses": 1,
    }


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _int(details: Mapping[str, Any], key: str) -> int:
    value = details.get(key)
    return value if type(value) is int and value > 0 else 0


@dataclass(frozen=True)
class TokenPrices:
    """What one model's tokens cost, in US dollars per million tokens of each kind.

    A kind left ``None`` has no price: a response that used it gets no estimate (``None``)
    rather than a wrong one. Cached rates apply to the cached part of the input.

    Raises:
        ConfigurationError: a rate is negative or not a finite number, or no rate is given.
    """

    input_text: float | None = None
    cached_input_text: float | None = None
    output_text: float | None = None
    input_audio: float | None = None
    cached_input_audio: float | None = None
    output_audio: float | None = None
    input_image: float | None = None
    cached_input_image: float | None = None
    _rates: tuple[float | None, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rates = {kind: getattr(self, kind) for kind in _KINDS}
        for kind, rate in rates.items():
            if rate is None:
                continue
            if not _is_rate(rate):
                raise ConfigurationError(
                    f"the price of {kind} tokens must be a non-negative number of US dollars "
                    f"per million tokens, not {rate!r}"
                )
        if all(rate is None for rate in rates.values()):
            raise ConfigurationError("TokenPrices needs at least one rate (USD per 1M tokens)")
        _set(self, "_rates", tuple(rates.values()))

    @classmethod
    def from_dict(cls, rates: Mapping[str, Any]) -> TokenPrices:
        """Rates from a mapping such as a parsed JSON object; unknown kinds are refused."""
        if not isinstance(rates, Mapping):
            raise ConfigurationError(f"prices must be an object of rates, not {rates!r}")
        unknown = sorted(set(rates) - set(_KINDS))
        if unknown:
            raise ConfigurationError(
                f"unknown token kind(s) {', '.join(map(repr, unknown))}; "
                f"the kinds are {', '.join(_KINDS)}"
            )
        return cls(**rates)

    def cost(self, usage: TokenUsage) -> float | None:
        """The estimated cost of ``usage`` in US dollars, or ``None`` if it used an unpriced
        kind (see :meth:`unpriced`)."""
        total = 0.0
        for tokens, rate in zip(usage.billed().values(), self._rates, strict=True):
            if tokens:
                if rate is None:
                    return None
                total += tokens * rate
        return total / PER_TOKENS

    def unpriced(self, usage: TokenUsage) -> list[str]:
        """The kinds ``usage`` used that have no rate here."""
        billed = usage.billed()
        return [kind for kind in _KINDS if billed[kind] and getattr(self, kind) is None]


_KINDS = tuple(kind.name for kind in fields(TokenPrices) if kind.init)


def _is_rate(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value >= 0


class PriceTable:
    """Rates by model, for sessions that may run on several models.

    A model's dated snapshot (``gpt-realtime-2025-08-28``) takes its model's rates
    (``gpt-realtime``); no other name matching is done: a price is never guessed.

    Args:
        models: model name to :class:`TokenPrices`, or to a mapping of rates.

    Raises:
        ConfigurationError: an entry is not a valid set of rates.
    """

    __slots__ = ("models",)

    def __init__(self, models: Mapping[str, TokenPrices | Mapping[str, Any]]) -> None:
        if not isinstance(models, Mapping) or not models:
            raise ConfigurationError("a price table needs at least one model: {name: {rates}}")
        table: dict[str, TokenPrices] = {}
        for name, rates in models.items():
            try:
                table[name] = (
                    rates if isinstance(rates, TokenPrices) else TokenPrices.from_dict(rates)
                )
            except (ConfigurationError, TypeError) as exc:
                raise ConfigurationError(f"price table entry {name!r}: {exc}") from exc
        self.models: Mapping[str, TokenPrices] = MappingProxyType(table)

    def __repr__(self) -> str:
        return f"PriceTable({', '.join(self.models)})"

    @classmethod
    def load(cls, path: str | Path) -> PriceTable:
        """A table from a JSON file: ``{"MODEL": {"input_text": 4.0, ...}, ...}``.

        Raises:
            ConfigurationError: the file cannot be read or parsed, or holds bad rates.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read the price table {path}: {exc}") from exc
        except ValueError as exc:
            raise ConfigurationError(f"the price table {path} is not valid JSON: {exc}") from exc
        return cls(data)

    def find(self, model: str | None) -> TokenPrices | None:
        """The rates of ``model`` (or of the model a dated snapshot belongs to), if listed."""
        if not model:
            return None
        found = self.models.get(model)
        return found if found is not None else self.models.get(_SNAPSHOT.sub("", model))

    def for_model(self, model: str) -> TokenPrices:
        """The rates of ``model``, for a session whose endpoint does not name its model.

        Raises:
            ConfigurationError: the table lists no such model.
        """
        found = self.find(model)
        if found is None:
            raise ConfigurationError(
                f"the price table has no model {model!r}; it lists {', '.join(self.models)}"
            )
        return found


def endpoint_model(endpoint: Endpoint | None) -> str | None:
    """The model an endpoint states (``Endpoint.model``): an OpenAI URL's ``model=``, or what
    the user said is behind an Azure deployment, whose name is never taken for a model."""
    return endpoint.model if endpoint is not None else None


def session_prices(
    prices: TokenPrices | PriceTable | None, endpoint: Endpoint | None
) -> TokenPrices | None:
    """The rates a session uses: given outright, or its endpoint's model's from a table."""
    if prices is None or isinstance(prices, TokenPrices):
        return prices
    model = endpoint_model(endpoint)
    found = prices.find(model)
    if found is None:
        why = f"has no model {model!r}" if model else "cannot be used: the endpoint names no model"
        logger.warning(
            "the price table %s; no cost is estimated. Pass prices=table.for_model(NAME)", why
        )
    return found


class UsageMeter:
    """A session's running totals: plain integers added per response."""

    __slots__ = ("_cost", "_sums", "_warned", "prices")

    def __init__(self, prices: TokenPrices | None = None) -> None:
        self.prices = prices
        self._sums = dict.fromkeys(_COUNTS, 0)
        self._cost: float | None = None if prices is None else 0.0
        self._warned = False

    def add(self, usage: Usage) -> tuple[TokenUsage, float | None]:
        """Count one response's usage; returns its figures and its estimated cost."""
        counts = _counts(usage)
        sums = self._sums
        for name, count in counts.items():
            sums[name] += count
        counted = TokenUsage._of(counts)
        return counted, self._price(counted)

    def add_earlier(self, usage: TokenUsage) -> None:
        """Count figures from an earlier part of the conversation (resumed in this session),
        priced as its own responses are."""
        sums = self._sums
        for name, count in usage.model_dump().items():
            sums[name] += count
        self._price(usage)

    def _price(self, usage: TokenUsage) -> float | None:
        """The cost of ``usage``, added to the total (which becomes unknown when a kind used
        has no price); ``None`` without prices."""
        prices = self.prices
        if prices is None:
            return None
        cost = prices.cost(usage)
        if cost is None:
            self._unpriced(prices, usage)
        elif self._cost is not None:
            self._cost += cost
        return cost

    def _unpriced(self, prices: TokenPrices, usage: TokenUsage) -> None:
        self._cost = None  # a total without this response would be wrong
        if not self._warned:
            self._warned = True
            missing = ", ".join(prices.unpriced(usage))
            logger.warning("no price for %s tokens: no cost is estimated", missing)

    @property
    def total(self) -> TokenUsage:
        """Every response's figures so far, summed."""
        return TokenUsage._of(self._sums.copy())

    @property
    def total_cost(self) -> float | None:
        """The estimated cost of every response so far; ``None`` without prices, or once a
        response used a kind that has no price."""
        return self._cost
