"""examples/weather.py: the smallest agent, through the `agentkit run` command."""

from __future__ import annotations

import pytest

from agentkit.cli import main
from tests.examples.helpers import EXAMPLES


def test_weather_answers_with_the_tool_output(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", str(EXAMPLES / "weather.py"), "--simulate", "--say", "Weather in Oslo?"]
    assert main([*argv, "--say", "And Atlantis?"]) == 0
    out = capsys.readouterr().out
    assert '  -> get_weather({"city": "Oslo"})' in out
    assert '"temperature":4,"unit":"celsius","sky":"overcast"}' in out
    assert "assistant: It is 4 degrees and overcast in Oslo.\n" in out
    assert "!! get_weather failed (tool_error" in out
    conversation, usage = out.rsplit("[agentkit] usage: ", 1)
    assert conversation.endswith("assistant: Sorry, I could not find that city.\n")
    assert usage.startswith("4 responses, ") and usage.endswith(" out\n")  # the run's totals
