"""Where ``agentkit run`` connects: flags over the environment, and the simulator only when
nothing at all is configured (partial settings are an error, never scripted answers)."""

from __future__ import annotations

import pytest

from agentkit import runner
from agentkit.cli import main
from agentkit.testing import Simulator
from tests.cli.helpers import KEY, WEATHER, run_in_thread

RES = "https://res.openai.azure.com"
NOT_SIMULATING = "; not falling back to the simulator, since {} (--simulate uses it on purpose)\n"


@pytest.mark.parametrize(
    ("environ", "flags", "says", "found"),
    [
        (
            {"AZURE_OPENAI_ENDPOINT": RES},
            [],
            "missing setting: AZURE_OPENAI_DEPLOYMENT (or --deployment) (the name of your "
            "realtime deployment, e.g. gpt-realtime)",
            "AZURE_OPENAI_ENDPOINT is set",
        ),
        (
            {"AZURE_OPENAI_API_KEY": KEY},
            [],
            "missing setting: AZURE_OPENAI_ENDPOINT (or --endpoint) (AZURE_OPENAI_API_KEY is "
            "set, but not AZURE_OPENAI_ENDPOINT: set it to https://RESOURCE.openai.azure.com, "
            "with AZURE_OPENAI_DEPLOYMENT)",
            "AZURE_OPENAI_API_KEY is set",
        ),
        (
            {"AZURE_OPENAI_ENDPONT": RES, "AZURE_OPENAI_DEPLOYMENT": "rt"},
            [],
            "AZURE_OPENAI_ENDPONT is set but not read: did you mean AZURE_OPENAI_ENDPOINT?",
            "AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_ENDPONT are set",
        ),
        (
            {"OPENAI_API_KEYS": "sk-abcdefghijkl"},
            [],
            "OPENAI_API_KEYS is set but not read: did you mean OPENAI_API_KEY?",
            "OPENAI_API_KEYS is set",
        ),
        (
            {},
            ["--endpoint", RES],
            "missing setting: AZURE_OPENAI_DEPLOYMENT (or --deployment)",
            "AZURE_OPENAI_ENDPOINT is set",
        ),
        (
            {},
            ["--deployment", "rt"],
            "missing setting: AZURE_OPENAI_ENDPOINT (or --endpoint)",
            "AZURE_OPENAI_DEPLOYMENT is set",
        ),
    ],
)
def test_partial_settings_exit_2_naming_what_is_missing(
    environ: dict[str, str],
    flags: list[str],
    says: str,
    found: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["run", WEATHER, "--say", "Paris?", *flags]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no simulator, no scripted answer
    assert err.startswith("agentkit: error: ") and err.count("\n") == 1
    assert says in err
    assert err.endswith(NOT_SIMULATING.format(found))
    assert KEY not in err and "sk-abcdefghijkl" not in err


async def test_endpoint_and_deployment_flags_connect_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = runner.load_target(WEATHER).scenario
    async with Simulator(scenario, api_key=KEY) as sim:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "from-env")
        monkeypatch.setenv("AGENTKIT_REALTIME_URL", "ws://127.0.0.1:9/never-used")
        pasted = sim.url.replace("ws://", "http://") + "/openai/deployments/pasted/"
        argv = ["run", WEATHER, "--endpoint", pasted, "--deployment", "rt", "--say", "Paris?"]
        assert await run_in_thread(argv) == 0
        opened = sim.received[0]
    out, err = capsys.readouterr()
    assert out.startswith(f"[agentkit] connecting to {sim.url}/openai/v1/realtime?model=rt\n")
    assert "assistant: It is 14 degrees and sunny in Paris.\n" in out
    assert err == "" and opened["type"] == "session.update"


def test_endpoint_with_a_query_shows_the_accepted_form(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    pasted = (
        "https://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=rt"
    )
    assert main(["run", WEATHER, "--endpoint", pasted, "--say", "hi"]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: the Azure endpoint is the resource URL without a query: use "
        "'https://res.openai.azure.com', and the deployment 'rt' as AZURE_OPENAI_DEPLOYMENT "
        f"(got '{pasted}')\n"
    )


def test_plain_http_off_this_machine_names_the_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    argv = ["run", WEATHER, "--endpoint", "http://10.0.0.5", "--deployment", "rt", "--say", "hi"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("agentkit: error: refusing unencrypted ws:// to 10.0.0.5")
    assert "--allow-insecure" in err and err.count("\n") == 1


def test_allow_insecure_reaches_the_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resolved without connecting: a test must not send traffic off this machine."""
    seen: list[runner.RunSettings] = []

    async def capture(settings: runner.RunSettings, **options: object) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr(runner, "run_conversation", capture)
    argv = ["--endpoint", "http://10.0.0.5", "--deployment", "rt", "--allow-insecure"]
    assert main(["run", WEATHER, *argv]) == 0
    endpoint = runner.resolve_endpoint(seen[0], {"AZURE_OPENAI_API_KEY": KEY})
    assert endpoint is not None and endpoint.allow_insecure
    assert endpoint.url == "ws://10.0.0.5/openai/v1/realtime?model=rt"


def test_deployment_without_endpoint_beside_a_custom_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTKIT_REALTIME_URL", "ws://127.0.0.1:9/v1/realtime")
    assert main(["run", WEATHER, "--deployment", "rt", "--say", "hi"]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: --deployment is for an Azure endpoint, but AGENTKIT_REALTIME_URL is set\n"
    )


def test_simulate_wins_over_any_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", RES)  # partial, but --simulate was asked for
    assert main(["run", WEATHER, "--simulate", "--say", "Paris?"]) == 0
    out, err = capsys.readouterr()
    assert "It is 14 degrees and sunny in Paris." in out and err == ""
