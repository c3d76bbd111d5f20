"""``agentkit run FILE[:NAME]``: terminal conversations, audio files, cassettes, exit codes."""

from __future__ import annotations

import asyncio
import json
import re
import wave
from collections.abc import Sequence
from pathlib import Path

import pytest

from agentkit import runner
from agentkit.audio import Pcm, write_wav
from agentkit.cli import main
from agentkit.endpoints import configured_variables
from agentkit.testing import Cassette, Simulator, silence, speech
from tests.support import TIMEOUT

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WEATHER = str(EXAMPLES / "weather.py")


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in configured_variables():
        monkeypatch.delenv(name)


async def run_in_thread(argv: Sequence[str]) -> int:
    """``main`` runs its own event loop; beside a simulator in the test's loop it needs a thread."""
    return await asyncio.wait_for(asyncio.to_thread(main, list(argv)), TIMEOUT)


def transcript(out: str) -> list[str]:
    """The conversation lines, without the connection notes and tool durations."""
    lines = [line for line in out.splitlines() if not line.startswith("[agentkit]")]
    return [re.sub(r"\(\d+ ms\)|, \d+ ms\)", "(n ms)", line) for line in lines]


def test_simulated_conversation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", WEATHER, "--simulate", "--say", "Weather in Oslo?"]) == 0
    assert transcript(capsys.readouterr().out) == [
        "you: Weather in Oslo?",
        "assistant: Let me check.",
        '  -> get_weather({"city": "Oslo"})',
        "  <- get_weather (n ms): "
        '{"city":"Oslo","temperature":4,"unit":"celsius","sky":"overcast"}',
        "assistant: It is 4 degrees and overcast in Oslo.",
    ]


def test_with_nothing_configured_it_warns_and_simulates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", f"{WEATHER}:agent", "--say", "Paris?"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "agentkit: warning: no endpoint is configured (AZURE_OPENAI_ENDPOINT, OPENAI_API_KEY "
        "and AGENTKIT_REALTIME_URL are unset): the built-in SIMULATOR answers, from "
        f"{WEATHER}'s scenario. Pass --simulate to ask for it, or --endpoint and --deployment "
        "for a real model.\n"
    )
    assert out.startswith("[agentkit] simulator listening on ws://127.0.0.1:")
    assert "assistant: It is 14 degrees and sunny in Paris.\n" in out
    assert main(["run", WEATHER, "--simulate", "--say", "Paris?"]) == 0
    assert capsys.readouterr().err == ""  # asked for: no warning


def test_audio_in_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    question, answer = tmp_path / "question.wav", tmp_path / "answer.wav"
    write_wav(question, Pcm(_downsample(silence(100) + speech(1000)), rate=8000))
    argv = ["run", str(EXAMPLES / "voice.py"), "--simulate", "--audio-in", str(question)]
    assert main([*argv, "--audio-out", str(answer)]) == 0
    out = capsys.readouterr().out
    assert "you: [audio " in out and ", 1.1 s]" in out
    assert '  -> opening_hours({"day": "saturday"})' in out
    assert "assistant: On Saturdays the library is open 10:00 to 17:00.\n" in out
    with wave.open(str(answer)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24_000, 1, 2)
        assert wav.getnframes() > 0


def test_audio_out_with_text_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answer = tmp_path / "answer.wav"
    argv = ["run", WEATHER, "--simulate", "--say", "Paris?", "--audio-out", str(answer)]
    assert main(argv) == 0
    assert "assistant: It is 14 degrees and sunny in Paris.\n" in capsys.readouterr().out
    with wave.open(str(answer)) as wav:  # 40 ms of simulated voice per character
        assert wav.getnframes() == len("It is 14 degrees and sunny in Paris.") * 960


async def test_record_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tape = tmp_path / "tape.jsonl"
    says = ["--say", "Weather in Oslo?", "--say", "What about Atlantis?"]
    assert await run_in_thread(["run", WEATHER, "--simulate", *says, "--record", str(tape)]) == 0
    recorded = transcript(capsys.readouterr().out)
    text = tape.read_text()
    assert "test-key" not in text  # the simulator's credential never reaches the cassette
    assert '{"expect": "session.update"}' in text and '"type": "response.done"' in text

    async with Simulator(cassette=Cassette.load(tape), api_key="replay-key") as sim:
        env = {"AGENTKIT_REALTIME_URL": sim.ga_url(), "AZURE_OPENAI_API_KEY": "replay-key"}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            assert await run_in_thread(["run", WEATHER, *says]) == 0
    out = capsys.readouterr().out
    assert "[agentkit] connecting to ws://127.0.0.1" in out
    assert transcript(out) == recorded
    assert "It is 4 degrees and overcast in Oslo." in "\n".join(recorded)


async def test_connection_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    async with Simulator(api_key="right-key") as sim:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AGENTKIT_REALTIME_URL", sim.ga_url())
            patch.setenv("AZURE_OPENAI_API_KEY", "wrong-key")
            assert await run_in_thread(["run", WEATHER, "--say", "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agentkit: AuthenticationError: ") and err.count("\n") == 1
    assert "wrong-key" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.py"], "no such file: missing.py"),
        ([f"{WEATHER}:nope"], f"{WEATHER} has no Agent named 'nope' (it has: agent)"),
        ([WEATHER, "--audio-in", "nowhere.wav"], "no such file: nowhere.wav"),
        ([WEATHER, "--audio-out", "/no/such/dir/a.wav"], "no such directory: /no/such/dir"),
        ([WEATHER, "--record", "/no/such/dir/t.jsonl"], "no such directory: /no/such/dir"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *argv, "--simulate", "--say", "hi"]) == 2
    assert capsys.readouterr().err == f"agentkit: error: {message}\n"


def test_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    assert main(["run", str(broken), "--simulate"]) == 2
    assert capsys.readouterr().err == (
        f"agentkit: error: cannot import {broken}: "
        "ModuleNotFoundError: No module named 'no_such_module_here'\n"
    )
    agentless = tmp_path / "agentless.py"
    agentless.write_text("x = 1\n")
    assert main(["run", str(agentless), "--simulate"]) == 2
    assert (
        capsys.readouterr().err == f"agentkit: error: {agentless} defines no module-level Agent\n"
    )
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio")
    assert main(["run", WEATHER, "--simulate", "--audio-in", str(notes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"agentkit: error: {notes}: not a PCM WAV file") and err.count("\n") == 1


def test_several_agents_need_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two = tmp_path / "two.py"
    two.write_text("from agentkit import Agent\nfirst = Agent()\nsecond = Agent()\n")
    assert main(["run", str(two), "--simulate", "--say", "hi"]) == 2
    assert "defines several agents (first, second); name one" in capsys.readouterr().err
    assert main(["run", f"{two}:second", "--simulate", "--say", "hi"]) == 0
    assert "[simulator] No scripted answer for: 'hi'." in capsys.readouterr().out


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", WEATHER, "--timeout", "0"])
    assert caught.value.code == 2
    assert "expected a positive number of seconds, got '0'" in capsys.readouterr().err
    for argv in (["--help"], ["run", "--help"], ["tools", "--help"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 0
    help_text = capsys.readouterr().out
    assert "exit codes:" in help_text and "130  interrupted" in help_text


def test_ctrl_c_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def interrupted(settings: runner.RunSettings, **options: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_conversation", interrupted)
    assert main(["run", WEATHER]) == 130
    assert capsys.readouterr().err == "agentkit: interrupted\n"


def test_interactive_reads_lines_until_eof(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Weather in Paris?\n\n/quit\nnever sent\n"))
    assert main(["run", WEATHER, "--simulate"]) == 0
    out = capsys.readouterr().out
    assert transcript(out) == [
        "you: Weather in Paris?",  # piped input is echoed
        '  -> get_weather({"city": "Paris"})',
        '  <- get_weather (n ms): {"city":"Paris","temperature":14,"unit":"celsius","sky":"sunny"}',
        "assistant: It is 14 degrees and sunny in Paris.",
        "you: ",
        "you: /quit",
    ]


def test_record_payload_is_redacted(tmp_path: Path) -> None:
    recorder = runner.CassetteRecorder(tmp_path / "t.jsonl")
    recorder.client_sent(json.dumps({"type": "session.update", "session": {}}))
    recorder.server_sent(json.dumps({"type": "error", "error": {"message": "bad api-key=abc123"}}))
    recorder.server_sent(b"\x00 not json")
    recorder.close()
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    assert lines[1:] == [
        '{"expect": "session.update"}',
        '{"type": "error", "error": {"message": "bad api-key=***"}}',
    ]
    assert len(Cassette.load(tmp_path / "t.jsonl").entries) == 2


def _downsample(pcm24k: bytes) -> bytes:
    """24 kHz to 8 kHz by keeping every third sample (the test input; the runner resamples)."""
    view = memoryview(pcm24k).cast("h")
    return memoryview(bytearray(view[::3].tobytes())).tobytes()
