"""What the command says about itself: help that cites files that exist, flags it has, the
right usage for a misspelt flag, and an example script that says what it did."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentkit.audio import read_wav
from agentkit.cli import main
from tests.cli.helpers import EXAMPLES, WEATHER
from tests.support import TIMEOUT

ROOT = EXAMPLES.parent


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--help"])
    assert caught.value.code == 0
    return capsys.readouterr().out


def test_run_help_cites_only_files_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    cited = set(re.findall(r"\b(?:examples|docs)/[\w/]+\.(?:py|md)\b", help_of(["run"], capsys)))
    assert {"examples/voice.py", "examples/weather.py", "docs/azure.md"} <= cited
    assert [path for path in sorted(cited) if not (ROOT / path).is_file()] == []


def test_run_help_lists_the_connection_and_log_flags(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(["run"], capsys)
    for flag in ("--endpoint URL", "--deployment NAME", "--allow-insecure", "--verbose"):
        assert flag in text
    assert "--log-level {debug,info,warning,error}" in text
    assert "settings only partly set are an error" in text


@pytest.mark.parametrize(
    ("argv", "usage", "error"),
    [
        (
            ["run", WEATHER, "--sya", "hi"],
            "usage: agentkit run ",
            "agentkit run: error: unrecognized arguments: --sya hi (did you mean --say?)",
        ),
        (
            ["run", WEATHER, "--endpiont=https://x"],
            "usage: agentkit run ",
            "agentkit run: error: unrecognized arguments: --endpiont=https://x "
            "(did you mean --endpoint?)",
        ),
        (
            ["tools", WEATHER, "--compcat"],
            "usage: agentkit tools ",
            "agentkit tools: error: unrecognized arguments: --compcat (did you mean --compact?)",
        ),
        (["run", WEATHER, "extra"], "usage: agentkit run ", "unrecognized arguments: extra"),
    ],
)
def test_a_misspelt_flag_gets_its_command_usage(
    argv: list[str], usage: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and err.endswith(f"{error}\n")


def test_voice_sample_says_what_it_wrote(tmp_path: Path) -> None:
    sample = tmp_path / "question.wav"
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "voice.py"), "--sample", str(sample)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        f"wrote 1.5 s of simulated speech to {sample} (24 kHz mono); now try:\n"
        f"  agentkit run examples/voice.py --simulate --audio-in {sample} --audio-out answer.wav\n"
    )
    assert read_wav(sample).duration_s == 1.5
