"""Token usage per response and per session, and cost estimates from a user's price table."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import sys
from pathlib import Path

import pytest

from agentkit import Agent, ConfigurationError, Endpoint, SessionOptions
from agentkit.events import Reconnected, ResponseFinished, UsageUpdated
from agentkit.protocol.events import Usage
from agentkit.testing import Scenario
from agentkit.usage import PriceTable, TokenPrices, TokenUsage, UsageMeter, endpoint_model
from tests.dispatch.loopback import live
from tests.support import TIMEOUT
from tests.test_ask import TEXT_AGENT, WEATHER

COST_PAGE = Path(__file__).resolve().parents[1] / "docs" / "cost.md"

# The shape of the SDK's RealtimeResponseUsage, as a later response of a voice conversation
# reports it: part of the input (text and audio) came from the cache.
WIRE = Usage(
    total_tokens=1_519,
    input_tokens=1_350,
    output_tokens=169,
    input_token_details={
        "text_tokens": 1_180,
        "audio_tokens": 170,
        "image_tokens": 0,
        "cached_tokens": 1_088,
        "cached_tokens_details": {"text_tokens": 1_024, "audio_tokens": 64, "image_tokens": 0},
    },
    output_token_details={"text_tokens": 40, "audio_tokens": 129},
)
PRICES = TokenPrices(
    input_text=4.0,
    cached_input_text=0.4,
    output_text=16.0,
    input_audio=32.0,
    cached_input_audio=0.4,
    output_audio=64.0,
    input_image=5.0,
    cached_input_image=0.5,
)


def test_a_wire_usage_is_read_by_kind() -> None:
    usage = TokenUsage.from_wire(WIRE)
    assert usage == TokenUsage(
        input_tokens=1_350,
        output_tokens=169,
        input_text_tokens=1_180,
        input_audio_tokens=170,
        cached_tokens=1_088,
        cached_text_tokens=1_024,
        cached_audio_tokens=64,
        output_text_tokens=40,
        output_audio_tokens=129,
        responses=1,
    )
    assert usage.total_tokens == WIRE.total_tokens


def test_figures_built_without_validation_behave_like_validated_ones() -> None:
    usage = UsageMeter().add(WIRE)[0]
    assert usage.model_copy(update={"responses": 3}).responses == 3
    assert usage.model_fields_set == set(TokenUsage.model_fields)
    assert TokenUsage.model_validate_json(usage.model_dump_json()) == usage
    assert hash(usage) == hash(TokenUsage(**usage.model_dump()))
    with pytest.raises(ValueError, match="frozen"):
        usage.input_tokens = 0  # type: ignore[misc]


def test_missing_and_odd_figures_count_zero() -> None:
    sparse = Usage(input_tokens=None, output_tokens=7, input_token_details={"text_tokens": 12})
    assert TokenUsage.from_wire(sparse) == TokenUsage(
        input_tokens=12, output_tokens=7, input_text_tokens=12, responses=1
    )
    odd = Usage(input_token_details={"text_tokens": "3", "cached_tokens_details": None})
    assert TokenUsage.from_wire(odd) == TokenUsage(responses=1)


def test_usages_add_up_field_by_field() -> None:
    one = TokenUsage.from_wire(WIRE)
    two = one + one
    assert two.input_tokens == 2_700 and two.cached_audio_tokens == 128
    assert two.responses == 2
    assert two == TokenUsage(**{name: 2 * value for name, value in one.model_dump().items()})


def test_the_cost_prices_cached_input_at_the_cached_rates() -> None:
    usage = TokenUsage.from_wire(WIRE)
    expected = (
        (1_180 - 1_024) * 4.0 + 1_024 * 0.4 + (170 - 64) * 32.0 + 64 * 0.4 + 40 * 16.0 + 129 * 64.0
    ) / 1_000_000
    cost = PRICES.cost(usage)
    assert cost is not None and math.isclose(cost, expected)


def test_tokens_the_service_did_not_split_are_priced_as_text() -> None:
    usage = TokenUsage(input_tokens=100, cached_tokens=40, output_tokens=10, responses=1)
    assert usage.billed() == {
        "input_text": 60,
        "cached_input_text": 40,
        "input_audio": 0,
        "cached_input_audio": 0,
        "input_image": 0,
        "cached_input_image": 0,
        "output_text": 10,
        "output_audio": 0,
    }


def test_a_kind_used_without_a_price_gives_no_estimate() -> None:
    text_only = TokenPrices(input_text=4.0, cached_input_text=0.4, output_text=16.0)
    usage = TokenUsage.from_wire(WIRE)
    assert text_only.cost(usage) is None
    assert text_only.unpriced(usage) == ["input_audio", "cached_input_audio", "output_audio"]
    assert text_only.cost(TokenUsage(input_tokens=10, input_text_tokens=10)) == 40 / 1_000_000


@pytest.mark.parametrize("rate", [-1.0, math.inf, math.nan, "4", True])
def test_a_bad_rate_is_a_configuration_error(rate: object) -> None:
    with pytest.raises(ConfigurationError, match="input_text"):
        TokenPrices(input_text=rate)  # type: ignore[arg-type]


def test_prices_need_a_rate_and_known_kinds() -> None:
    with pytest.raises(ConfigurationError, match="at least one rate"):
        TokenPrices()
    with pytest.raises(ConfigurationError, match="'input_txt'.*input_text"):
        TokenPrices.from_dict({"input_txt": 4.0})


def test_a_table_finds_a_model_and_its_dated_snapshots_only() -> None:
    table = PriceTable({"gpt-realtime": PRICES, "gpt-realtime-mini": {"input_text": 0.6}})
    assert table.find("gpt-realtime") is PRICES
    assert table.find("gpt-realtime-2025-08-28") is PRICES
    mini = table.find("gpt-realtime-mini-2025-10-06")
    assert mini is not None and mini.input_text == 0.6
    assert table.find("gpt-realtime-2") is None  # another model: never guessed
    assert table.find("my-voice-deployment") is None
    assert table.find(None) is None
    with pytest.raises(ConfigurationError, match="no model 'gpt-4o'.*gpt-realtime-mini"):
        table.for_model("gpt-4o")


def test_a_table_loads_from_json_and_names_the_bad_entry(tmp_path: Path) -> None:
    good = tmp_path / "prices.json"
    good.write_text(json.dumps({"gpt-realtime": {"input_text": 4, "output_text": 16}}))
    assert PriceTable.load(good).for_model("gpt-realtime").output_text == 16
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"gpt-realtime": {"input_text": -4}}))
    with pytest.raises(ConfigurationError, match="entry 'gpt-realtime'.*non-negative"):
        PriceTable.load(bad)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        PriceTable.load(tmp_path / "broken.json")
    with pytest.raises(ConfigurationError, match="cannot read"):
        PriceTable.load(tmp_path / "missing.json")
    with pytest.raises(ConfigurationError, match="at least one model"):
        PriceTable({})


def test_only_an_endpoint_that_states_its_model_has_one() -> None:
    openai = Endpoint.openai(model="gpt-realtime-mini", api_key="sk-test")
    assert endpoint_model(openai) == "gpt-realtime-mini"
    azure = Endpoint.azure("https://res.openai.azure.com", "gpt-realtime", "key")
    assert endpoint_model(azure) is None  # a deployment's name is not a model
    stated = Endpoint.azure("https://res.openai.azure.com", "voice", "key", model="gpt-realtime-2")
    assert endpoint_model(stated) == "gpt-realtime-2"
    assert endpoint_model(None) is None


def test_the_meter_sums_plain_counts_and_prices_on_demand() -> None:
    meter = UsageMeter(PRICES)
    first, cost = meter.add(WIRE)
    meter.add(WIRE)
    assert meter.total == first + first
    assert cost is not None and meter.total_cost is not None
    assert math.isclose(meter.total_cost, 2 * cost)
    assert UsageMeter().add(WIRE)[1] is None and UsageMeter().total_cost is None


def test_the_meter_warns_once_of_an_unpriced_kind(caplog: pytest.LogCaptureFixture) -> None:
    meter = UsageMeter(TokenPrices(input_text=4.0))
    with caplog.at_level(logging.WARNING, logger="agentkit.usage"):
        assert meter.add(WIRE)[1] is None
        meter.add(WIRE)
    (record,) = caplog.records
    assert "cached_input_text" in record.getMessage() and "output_audio" in record.getMessage()


async def test_every_response_tells_its_usage_and_the_running_totals() -> None:
    options = SessionOptions(prices=PRICES)
    async with live(WEATHER, TEXT_AGENT, options=options) as t:
        await t.session.ask("weather in Oslo?")
        finished = t.events.of(ResponseFinished)
        updates = t.events.of(UsageUpdated)
        assert [u.response_id for u in updates] == [f.response_id for f in finished]
        for update, response in zip(updates, finished, strict=True):
            assert response.usage is not None
            assert update.usage == TokenUsage.from_wire(response.usage)
            assert t.events.events.index(update) == t.events.events.index(response) - 1
        assert updates[1].total == updates[0].usage + updates[1].usage
        assert t.session.usage == updates[1].total
        assert t.session.usage.responses == 2 and t.session.usage.output_tokens > 0
        costs = [u.cost for u in updates]
        assert all(cost is not None and cost > 0 for cost in costs)
        assert updates[1].total_cost == t.session.cost
        assert t.session.cost is not None and math.isclose(t.session.cost, sum(costs))  # type: ignore[arg-type]


THREE_TURNS = Scenario().on("one").say("One.").on("two").say("Two.").on("three").say("Three.")


async def test_later_turns_read_the_conversation_from_the_cache() -> None:
    voice = Agent(instructions="Help.", modality="audio", turn_detection=None)
    async with live(THREE_TURNS, voice, options=SessionOptions(prices=PRICES)) as t:
        await t.session.ask("one")
        await t.session.ask("two")
        first, second = (update.usage for update in t.events.of(UsageUpdated))
        assert first.cached_tokens == 0 and first.output_audio_tokens > 0
        # The second response read the first one's audio again, from the cache.
        assert second.cached_audio_tokens == first.output_audio_tokens
        assert second.cached_tokens == second.cached_text_tokens + second.cached_audio_tokens
        assert 0 < second.cached_text_tokens < second.input_text_tokens
        assert t.session.usage.cached_tokens == second.cached_tokens


async def test_the_preview_dialect_is_counted_and_priced_too() -> None:
    async with live(
        THREE_TURNS, TEXT_AGENT, options=SessionOptions(prices=PRICES), preview=True
    ) as t:
        await t.session.ask("one")
        await t.session.ask("two")
        update = t.events.of(UsageUpdated)[1]
        usage = update.usage
        # The preview protocol does not split the cache by kind: it is priced as cached text.
        assert usage.cached_tokens > 0 and usage.cached_text_tokens == 0
        uncached = usage.input_tokens - usage.cached_tokens
        expected = (uncached * 4.0 + usage.cached_tokens * 0.4 + usage.output_tokens * 16.0) / 1e6
        assert update.cost == pytest.approx(expected)


async def test_the_totals_survive_a_reconnect() -> None:
    async with live(THREE_TURNS, TEXT_AGENT) as t:
        await t.session.ask("one")
        t.sim.faults.drop_after_event("response.done", count=2, code=1011)
        await t.session.ask("two")
        await t.events.wait_for(Reconnected)
        await t.session.ask("three")
        updates = t.events.of(UsageUpdated)
        assert [update.total.responses for update in updates] == [1, 2, 3]
        assert t.session.usage == updates[0].usage + updates[1].usage + updates[2].usage
        assert len(t.sim.connections) == 2


async def test_without_prices_there_are_tokens_and_no_cost() -> None:
    async with live(Scenario().on("hi").say("Hello."), TEXT_AGENT) as t:
        assert t.session.usage == TokenUsage() and t.session.cost is None
        await t.session.ask("hi")
        (update,) = t.events.of(UsageUpdated)
        assert update.cost is None and update.total_cost is None and t.session.cost is None
        assert t.session.usage.input_tokens > 0 and t.session.usage.responses == 1


async def test_a_table_without_the_endpoint_model_warns_and_estimates_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = PriceTable({"gpt-realtime": PRICES})
    with caplog.at_level(logging.WARNING, logger="agentkit.usage"):
        async with live(
            Scenario().on("hi").say("Hello."), TEXT_AGENT, options=SessionOptions(prices=table)
        ) as t:
            await t.session.ask("hi")
            assert t.session.cost is None
    assert any("for_model" in record.getMessage() for record in caplog.records)
    options = SessionOptions(prices=table.for_model("gpt-realtime"))
    async with live(Scenario().on("hi").say("Hello."), TEXT_AGENT, options=options) as t:
        await t.session.ask("hi")
        assert t.session.cost is not None and t.session.cost > 0


def _blocks(language: str) -> list[str]:
    """The fenced blocks of the cost page in ``language`` ("": no language given)."""
    blocks: list[tuple[str, list[str]]] = []
    inside = False
    for line in COST_PAGE.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append((line[3:].strip(), []))
        elif inside:
            blocks[-1][1].append(line)
    return ["".join(lines) for kind, lines in blocks if kind == language]


async def test_the_cost_page_example_prints_what_the_page_says(tmp_path: Path) -> None:
    script = tmp_path / "cost_example.py"
    script.write_text(_blocks("python")[0], encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 4 * TIMEOUT)
    assert process.returncode == 0
    printed = _blocks("text")[0]
    assert out.decode() == printed
    assert re.search(r"\(([1-9]\d*) cached\)", printed)  # the second response's cache


def test_the_cost_page_file_holds_the_rates_of_its_table() -> None:
    (document,) = _blocks("json")
    table = PriceTable(json.loads(document))
    rows = re.findall(r"^\| `([\w.-]+)` \|(.*)\|$", COST_PAGE.read_text(encoding="utf-8"), re.M)
    kinds = [
        "input_text", "cached_input_text", "output_text", "input_audio", "cached_input_audio",
        "output_audio", "input_image", "cached_input_image",
    ]  # fmt: skip
    priced = [(model, cells) for model, cells in rows if model in table.models]
    assert len(priced) == len(table.models) == 3
    for model, cells in priced:
        rates = [float(cell) for cell in cells.split("|")]
        assert TokenPrices(**dict(zip(kinds, rates, strict=True))) == table.for_model(model)
