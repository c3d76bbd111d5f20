"""``agentkit run`` ends with the session's token totals, and with ``--prices`` their cost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentkit import TokenUsage
from agentkit.cli import main
from agentkit.endpoints import configured_variables
from agentkit.runner import usage_line

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WEATHER = str(EXAMPLES / "weather.py")
RATES = {
    "input_text": 4.0,
    "cached_input_text": 0.4,
    "output_text": 16.0,
    "input_audio": 32.0,
    "cached_input_audio": 0.4,
    "output_audio": 64.0,
}
LINE = re.compile(
    r"^\[agentkit\] usage: 2 responses, (\d+) tokens in \((\d+) cached\), (\d+) out"
    r"(?:; estimated cost \$(\d+\.\d{6}))?$"
)


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in configured_variables():
        monkeypatch.delenv(name)


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"gpt-realtime-1.5": RATES}), encoding="utf-8")
    return path


def last_line(capsys: pytest.CaptureFixture[str]) -> re.Match[str]:
    out = capsys.readouterr().out
    found = LINE.match(out.splitlines()[-1])
    assert found is not None, out
    return found


def test_a_run_ends_with_its_token_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", WEATHER, "--simulate", "--say", "Weather in Oslo?"]) == 0
    tokens_in, cached, tokens_out, cost = last_line(capsys).groups()
    assert 0 < int(cached) < int(tokens_in)  # the follow-up read the first response's input
    assert int(tokens_out) > 0 and cost is None


def test_with_prices_the_line_shows_the_estimated_cost(
    prices: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", WEATHER, "--simulate", "--model", "gpt-realtime-1.5", "--prices", str(prices)]
    assert main([*argv, "--say", "Weather in Oslo?"]) == 0
    tokens_in, cached, tokens_out, cost = last_line(capsys).groups()
    # The simulator's input and output are text here: the estimate follows from the counts.
    uncached = int(tokens_in) - int(cached)
    expected = (uncached * 4.0 + int(cached) * 0.4 + int(tokens_out) * 16.0) / 1_000_000
    assert cost is not None and float(cost) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ([], "--prices: the endpoint does not name its model; say which with --model NAME "
         "(the table lists gpt-realtime-1.5)"),
        (["--model", "gpt-realtime-2"], "--prices: the price table has no model 'gpt-realtime-2'; "
         "it lists gpt-realtime-1.5"),
    ],
)  # fmt: skip
def test_prices_without_the_model_are_an_input_error(
    prices: Path, extra: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", WEATHER, "--simulate", "--prices", str(prices), *extra, "--say", "hi"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err == f"agentkit: error: {error}\n"
    assert out == ""  # nothing connected


def test_a_bad_price_file_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"gpt-realtime-1.5": {"input_txt": 4.0}}), encoding="utf-8")
    argv = ["run", WEATHER, "--simulate", "--model", "gpt-realtime-1.5", "--prices", str(bad)]
    assert main([*argv, "--say", "hi"]) == 2
    err = capsys.readouterr().err
    assert (
        "--prices: price table entry 'gpt-realtime-1.5': unknown token kind(s) 'input_txt'" in err
    )
    assert main([*argv[:-1], str(tmp_path / "missing.json"), "--say", "hi"]) == 2
    assert "--prices: cannot read the price table" in capsys.readouterr().err


def test_the_usage_line_reads_like_a_sentence() -> None:
    one = TokenUsage(input_tokens=1_234, cached_tokens=312, output_tokens=56, responses=1)
    assert usage_line(one, None) == (
        "[agentkit] usage: 1 response, 1,234 tokens in (312 cached), 56 out"
    )
    assert usage_line(one + one, 0.0123).endswith("112 out; estimated cost $0.012300")
    assert usage_line(one, 1234.5).endswith("; estimated cost $1,234.50")
