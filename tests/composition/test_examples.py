"""``agentkit run examples/handoff.py`` and ``examples/guardrail.py`` against the simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentkit.cli import main
from agentkit.endpoints import configured_variables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in configured_variables():
        monkeypatch.delenv(name)


def _transcript(out: str) -> list[str]:
    lines = [line for line in out.splitlines() if not line.startswith("[agentkit]")]
    return [re.sub(r"\(\d+ ms\)|, \d+ ms\)", "(n ms)", line) for line in lines]


def test_the_handoff_example_goes_to_billing_and_back(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", str(EXAMPLES / "handoff.py"), "--simulate"]
    argv += ["--say", "I have a question about invoice A-7", "--say", "thanks, that's all"]
    assert main(argv) == 0
    assert _transcript(capsys.readouterr().out) == [
        "you: I have a question about invoice A-7",
        "assistant: Let me get billing for you.",
        '  -> transfer_to_billing({"reason": "invoice question"})',
        "  <- transfer_to_billing (n ms): transferred to billing",
        '  -> get_invoice({"number": "A-7"})',
        '  <- get_invoice (n ms): {"number":"A-7","amount_eur":42.0,"status":"paid"}',
        "assistant: Invoice A-7 is 42.00 euros, paid.",
        "you: thanks, that's all",
        "  -> transfer_back({})",
        "  <- transfer_back (n ms): transferred to triage",
        "assistant: You're back at the front desk. Anything else?",
    ]


def test_the_guardrail_example_stops_a_card_number_and_a_large_refund(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", str(EXAMPLES / "guardrail.py"), "--simulate"]
    argv += ["--say", "read me the card on file", "--say", "refund 900 euros"]
    assert main(argv) == 0
    lines = _transcript(capsys.readouterr().out)
    assert lines[0] == "you: read me the card on file"
    assert "  [interrupted]" in lines
    assert lines[lines.index("  [interrupted]") + 1] == (
        "assistant: Sorry, I can't read card details aloud. I can tell you it ends in 1111."
    )
    refused = next(line for line in lines if line.startswith("  !! refund failed"))
    assert "(guardrail" in refused and "need a person" in refused
    assert lines[-1] == "assistant: I can't refund that much myself; shall I open a ticket for you?"
