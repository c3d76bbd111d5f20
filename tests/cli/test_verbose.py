"""``--verbose`` / ``--log-level`` / ``AGENTKIT_LOG``: agentkit's log and full tracebacks on
stderr, with every secret masked, including a key quoted bare where no pattern would find it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit import runner
from agentkit.cli import main
from agentkit.testing import Simulator
from tests.cli.helpers import KEY, run_in_thread

LEAKY_AGENT = """\
import os

from agentkit import Agent, tool
from agentkit.testing import Scenario


@tool
def lookup(city: str) -> str:
    \"\"\"Fails, quoting the key.\"\"\"
    raise RuntimeError("upstream refused key " + os.environ["AZURE_OPENAI_API_KEY"])


agent = Agent(tools=[lookup])
scenario = Scenario().on("paris").call("lookup", city="Paris").say("Could not look it up.")
"""
RAISE_LINE = 10


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    path = tmp_path / "leaky.py"
    path.write_text(LEAKY_AGENT)
    return path


async def test_verbose_shows_tool_tracebacks_and_never_the_key(
    leaky: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator(runner.load_target(str(leaky)).scenario, api_key=KEY) as sim:
        monkeypatch.setenv("AGENTKIT_REALTIME_URL", sim.ga_url())
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        assert await run_in_thread(["run", str(leaky), "--verbose", "--say", "Paris?"]) == 0
        verbose_out, verbose_err = capsys.readouterr()
        assert await run_in_thread(["run", str(leaky), "--say", "Paris?"]) == 0
        quiet_out, quiet_err = capsys.readouterr()
    for text in (verbose_out, verbose_err, quiet_out, quiet_err):
        assert KEY not in text
    assert "agentkit.transport.wire: > api-key: ***\n" in verbose_err  # the handshake, masked
    assert "DEBUG agentkit.testing" not in verbose_err  # the simulator's dump stays out
    assert "tool lookup raised\nTraceback (most recent call last):\n" in verbose_err
    assert f'File "{leaky}", line {RAISE_LINE}, in lookup\n' in verbose_err
    assert "RuntimeError: upstream refused key ***\n" in verbose_err
    assert "  !! lookup failed (tool_error" in verbose_out and "key ***" in verbose_out
    assert quiet_err == ""  # no log unless asked for


async def test_log_level_and_agentkit_log_choose_what_is_shown(
    leaky: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Simulator(runner.load_target(str(leaky)).scenario, api_key=KEY) as sim:
        monkeypatch.setenv("AGENTKIT_REALTIME_URL", sim.ga_url())
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        assert (
            await run_in_thread(["run", str(leaky), "--log-level", "ERROR", "--say", "Paris"]) == 0
        )
        flag_err = capsys.readouterr().err
        monkeypatch.setenv("AGENTKIT_LOG", "debug")
        assert await run_in_thread(["run", str(leaky), "--say", "Paris"]) == 0
        env_err = capsys.readouterr().err
    assert f'File "{leaky}", line {RAISE_LINE}, in lookup\n' in flag_err
    assert " DEBUG " not in flag_err
    assert " DEBUG agentkit.transport" in env_err and "Traceback" in env_err
    assert KEY not in flag_err + env_err


BROKEN_MODULE = """\
import os
raise ValueError("bad setting near " + os.environ["AZURE_OPENAI_API_KEY"])
"""


@pytest.mark.parametrize("command", [["run", "--simulate"], ["tools"]])
@pytest.mark.parametrize("how", ["--verbose", "AGENTKIT_LOG", None])
def test_import_errors_show_file_and_line_when_asked(
    command: list[str],
    how: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN_MODULE)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    if how == "AGENTKIT_LOG":
        monkeypatch.setenv("AGENTKIT_LOG", "info")
    argv = [command[0], str(broken), *command[1:], *(["--verbose"] if how == "--verbose" else [])]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    last = f"agentkit: error: cannot import {broken}: ValueError: bad setting near ***\n"
    assert err.endswith(last) and KEY not in out + err
    if how is None:
        assert err == last
    else:
        assert f"cannot import {broken}\nTraceback (most recent call last):\n" in err
        assert f'File "{broken}", line 2, in <module>\n' in err


def test_a_bad_agentkit_log_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTKIT_LOG", "loud")
    assert main(["tools", "whatever.py"]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: AGENTKIT_LOG='loud' is not one of debug, info, warning, error\n"
    )
