"""``agentkit run --image FILE --say TEXT`` and ``--model NAME``: the image reaches the service as
an ``input_image``; a model that takes no images, or a bad file, is a usage error (exit 2) before
anything connects."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agentkit.cli import main
from agentkit.testing import Scenario, Simulator
from tests.cli.helpers import KEY, WEATHER, run_in_thread
from tests.image_files import GIF, png

PNG = png(3, 3)


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "sky.png"
    path.write_bytes(PNG)
    return path


async def test_the_image_reaches_the_service(
    picture: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = Scenario().on("rain").say("Grey enough for rain.")
    async with Simulator(scenario, api_key=KEY) as sim:
        monkeypatch.setenv("AGENTKIT_REALTIME_URL", sim.openai_url("gpt-realtime"))
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        argv = ["run", WEATHER, "--image", str(picture), "--say", "Will it rain?"]
        assert await run_in_thread(argv) == 0
    out = capsys.readouterr().out
    assert f"you: [image {picture}, 0 KiB]\nyou: Will it rain?\n" in out
    assert "assistant: Grey enough for rain." in out
    items = [e["item"] for e in sim.received if e["type"] == "conversation.item.create"]
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert items[0]["content"] == [{"type": "input_image", "image_url": uri}]
    assert items[1]["content"] == [{"type": "input_text", "text": "Will it rain?"}]
    responses = [e for e in sim.received if e["type"] == "response.create"]
    assert len(responses) == 1  # the image waits for the question


def test_a_model_without_images_is_a_usage_error(
    picture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", WEATHER, "--simulate", "--model", "gpt-4o-realtime-preview"]
    assert main([*argv, "--image", str(picture), "--say", "hi"]) == 2
    assert capsys.readouterr().err == (
        "agentkit: error: model 'gpt-4o-realtime-preview' does not take images: it has no "
        "image input (models that do: gpt-realtime, gpt-realtime-mini, gpt-realtime-2)\n"
    )
    assert main([*argv, "--say", "hi"]) == 0  # the same model without an image is fine
    assert "simulator listening" in capsys.readouterr().out


def test_the_azure_model_comes_from_model(
    picture: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    argv = ["run", WEATHER, "--endpoint", "https://res.openai.azure.com", "--deployment", "d"]
    assert main([*argv, "--model", "gpt-4o-mini-realtime-preview", "--image", str(picture)]) == 2
    assert "'gpt-4o-mini-realtime-preview' does not take images" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.png", None, "no such file: {path}"),
        (
            "anim.gif",
            GIF,
            "{path} is not PNG or JPEG, which the Realtime API takes: it is image/gif",
        ),
        ("huge.png", PNG + bytes(6 * 1024 * 1024), "{path} has 6,291,"),
    ],
)
def test_bad_images_exit_2_before_connecting(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["run", WEATHER, "--simulate", "--image", str(path), "--say", "hi"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("agentkit: error: " + message.format(path=path))
    assert err.count("\n") == 1 and "simulator listening" not in out
