"""examples/claims.py: a reasoning model, an image and an aside, alone and with `agentkit run`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentkit.cli import main
from tests.examples.helpers import EXAMPLES, load_example
from tests.support import TIMEOUT


def test_the_claims_flow_runs_against_the_simulator() -> None:
    ran = subprocess.run(
        [sys.executable, str(EXAMPLES / "claims.py")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 6,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "assistant: Let me look at the photo.",
        "assistant: I opened claim CL-2041 for the cracked screen.",
        'claim: {"claim_id":"CL-2041","device":"phone","damage":"screen","status":"opened"}',
        "urgency (aside): normal",
    ]


def test_agentkit_run_shows_the_image_preamble_and_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(load_example("claims").photo())
    argv = ["run", str(EXAMPLES / "claims.py"), "--simulate", "--model", "gpt-realtime-2"]
    argv += ["--image", str(photo), "--say", "My phone screen cracked, can you open a claim?"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"you: [image {photo}" in out
    assert "assistant: Let me look at the photo.\n" in out
    assert "assistant: I opened claim CL-2041 for the cracked screen.\n" in out
