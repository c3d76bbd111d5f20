"""End to end in headless Chromium: a fake microphone speaks, the page shows the agent's answer.

Chromium plays a WAV file as the microphone; the page resamples it to 24 kHz PCM16 and streams
it to the example app, which relays it to a realtime session on the simulator. The simulator's
VAD hears the speech, its scripted model calls ``check_order``, the app runs the tool, and the
answer comes back to the page as a transcript and audio that the page plays.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from agentkit import Endpoint
from agentkit.testing import Simulator, silence, speech
from agentkit.testing.audio import SAMPLE_RATE
from examples.webapp.app import create_app
from tests.browser.chromium import CHROMIUM, Browser
from tests.browser.conftest import ANSWER, ORDER
from tests.browser.server import serve
from tests.support import TIMEOUT

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
)

BROWSER_TIMEOUT = 6 * TIMEOUT


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return path


def fake_microphone(wav: Path) -> list[str]:
    """Chromium flags: grant the microphone without asking, fed once from ``wav``."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
    ]


async def test_the_page_talks_to_the_agent(
    simulator: Simulator, service: str, tmp_path: Path
) -> None:
    question = write_wav(tmp_path / "question.wav", speech(1000) + silence(2000))
    async with Browser.launch(tmp_path / "profile", fake_microphone(question)) as browser:
        page = await browser.new_page(service)
        await page.evaluate("document.getElementById('start').click()")
        await page.wait_for("document.body.dataset.state === 'listening'", BROWSER_TIMEOUT)

        # The server side: the app ran the tool and posted its real output.
        posted = await simulator.wait_for(
            "conversation.item.create",
            where=lambda event: event["item"]["type"] == "function_call_output",
            timeout=BROWSER_TIMEOUT,
        )
        assert json.loads(posted["item"]["output"]) == ORDER

        # The page: the tool call with its result, then the transcript, then the audio.
        tool = await page.wait_for(
            "document.querySelector('#tools li[data-done]')?.textContent", BROWSER_TIMEOUT
        )
        assert tool.startswith('check_order({"order_id": "A1001"}) → ')
        assert json.loads(tool.split(" → ", 1)[1]) == ORDER
        await page.wait_for(
            f"document.getElementById('transcript').textContent.includes({json.dumps(ANSWER)})",
            BROWSER_TIMEOUT,
        )
        spoken = simulator.connections[0].sent
        await spoken.wait_for("response.done", count=2, timeout=BROWSER_TIMEOUT)  # call, answer
        sent = spoken.of_type("response.output_audio.delta")
        assert sent, "the simulator spoke"
        await page.wait_for(
            f"Number(document.getElementById('chunks-received').textContent) === {len(sent)}",
            BROWSER_TIMEOUT,
        )
        await page.wait_for(
            f"Number(document.getElementById('chunks-played').textContent) === {len(sent)}",
            BROWSER_TIMEOUT,
        )
        assert page.errors == [], await page.report()


async def test_a_refused_session_shows_the_services_message_on_the_page(
    simulator: Simulator, tmp_path: Path
) -> None:
    endpoint = Endpoint.custom(simulator.ga_url(), credential="not-the-key")
    quiet = write_wav(tmp_path / "quiet.wav", silence(500))
    async with (
        serve(create_app(endpoint)) as url,
        Browser.launch(tmp_path / "profile", fake_microphone(quiet)) as browser,
    ):
        page = await browser.new_page(url)
        await page.evaluate("document.getElementById('start').click()")
        await page.wait_for("document.body.dataset.state === 'closed'", BROWSER_TIMEOUT)
        status = await page.evaluate("document.getElementById('status').textContent")
        assert "invalid or missing credentials" in status and "401" in status, status
        assert await page.evaluate("document.getElementById('status').className") == "error"
        assert "not-the-key" not in status and str(simulator.port) not in status
        icon = "fetch('/favicon.ico').then(r => r.status + ' ' + r.headers.get('content-type'))"
        assert await page.evaluate(icon, await_promise=True) == "200 image/svg+xml"
        assert page.errors == [], await page.report()
