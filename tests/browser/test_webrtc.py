"""The web example's WebRTC mode end to end in headless Chromium, with real media.

page (fake microphone) --WebRTC--> simulator (aiortc: VAD, scenario) --sideband--> the example's
server runs check_order --> the answer comes back on the call's audio track (the page measures
it with an AnalyserNode) and its transcript on the ``oai-events`` data channel. The long-lived
key (a canary) is in nothing the browser received.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentkit import Endpoint, mint_client_secret
from agentkit.testing import Scenario, Simulator, silence, speech, webrtc
from examples.webapp.agent import agent
from examples.webapp.app import create_app
from tests.browser.chromium import CHROMIUM, Browser
from tests.browser.conftest import ANSWER, ORDER
from tests.browser.server import serve
from tests.browser.test_page import BROWSER_TIMEOUT, fake_microphone, write_wav
from tests.calls.support import CANARY_KEY

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
    ),
    pytest.mark.skipif(
        not webrtc.available(),
        reason="the simulator's WebRTC media needs aiortc (the dev extra installs it)",
    ),
]

WEBRTC_FLAGS = [
    # The page makes its offer before it asks for the microphone, when Chromium may hide its
    # host addresses behind mDNS names (headless Chromium 150 does not); the simulator's peer
    # pairs host candidates, so the test does not depend on that policy.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture
async def canary_simulator(scenario: Scenario) -> AsyncIterator[Simulator]:
    async with Simulator(scenario, api_key=CANARY_KEY) as simulator:
        yield simulator


@pytest.fixture
async def webrtc_service(canary_simulator: Simulator) -> AsyncIterator[str]:
    endpoint = Endpoint.custom(canary_simulator.openai_url(), credential=CANARY_KEY)
    app = create_app(endpoint, api_base_url=canary_simulator.calls.api_base)
    async with serve(app) as url:
        yield url


async def test_webrtc_mode_page_to_simulator_to_sideband_tool_and_back(
    canary_simulator: Simulator,
    webrtc_service: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = canary_simulator
    question = write_wav(tmp_path / "question.wav", speech(1000) + silence(2000))
    flags = [*fake_microphone(question), *WEBRTC_FLAGS]
    async with Browser.launch(tmp_path / "profile", flags) as browser:
        page = await browser.new_page(f"{webrtc_service}/?mode=webrtc", record_network=True)
        await page.evaluate("document.getElementById('start').click()")
        await page.wait_for("document.body.dataset.state === 'listening'", BROWSER_TIMEOUT)
        [call] = sim.calls.calls.values()
        assert call.kind == "webrtc" and call.media is not None

        # The server side: the example attached a sideband to the call and ran the tool there.
        [sideband] = [c for c in sim.connections if "call_id=" in c.path]
        assert sideband.path.endswith(f"call_id={call.call_id}")
        posted = await sideband.received.wait_for(
            "conversation.item.create", timeout=BROWSER_TIMEOUT
        )
        assert posted["item"]["type"] == "function_call_output"
        assert json.loads(posted["item"]["output"]) == ORDER

        # The simulator heard the page's microphone over the call's audio track.
        assert call.media.heard_ms >= 1000

        # The page: the tool call with its result and the transcript, from the data channel...
        tool = await page.wait_for(
            "document.querySelector('#tools li[data-done]')?.textContent", BROWSER_TIMEOUT
        )
        called, output = tool.split(" → ", 1)
        assert called.startswith("check_order(") and called.endswith(")")
        assert json.loads(called.removeprefix("check_order(")[:-1]) == {"order_id": "A1001"}
        assert json.loads(output) == ORDER
        await page.wait_for(
            f"document.getElementById('transcript').textContent.includes({json.dumps(ANSWER)})",
            BROWSER_TIMEOUT,
        )
        # ...and the answer's audio, heard on the call's track: 51 characters, 2040 ms of voice
        # (the page measures about that; half of it is proof enough on a loaded machine).
        await page.wait_for(
            "Number(document.getElementById('audio-heard-ms').textContent) >= 1000",
            BROWSER_TIMEOUT,
        )
        events = await page.evaluate("window.agentkitDemo.events()")
        types = [event["type"] for event in events]
        assert "input_audio_buffer.speech_started" in types
        assert "output_audio_buffer.started" in types
        assert "response.output_audio.delta" not in types  # audio travels on the track

        # The long-lived key reached nothing the browser received, nor any log.
        received = await page.received()
        assert "/call" in received and "a=fingerprint:" in received  # the relayed answer
        page_html = await page.evaluate("document.documentElement.outerHTML")
        for what in (received, json.dumps(events), page_html):
            assert CANARY_KEY not in what

        # Stop hangs up: the call ends and its sideband closes.
        await page.evaluate("document.getElementById('stop').click()")
        await page.wait_for("document.body.dataset.state === 'closed'", BROWSER_TIMEOUT)
        await sideband.wait_closed(BROWSER_TIMEOUT)
        assert call.status == "ended" and call.media is None
        assert page.errors == [], await page.report()
    assert CANARY_KEY not in caplog.text


CALL_WITH_SECRET = """
(async () => {
  const connection = (window.testConnection = new RTCPeerConnection());
  connection.addTransceiver("audio", { direction: "sendrecv" });
  const channel = connection.createDataChannel("oai-events");
  const created = new Promise((resolve) => {
    channel.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "session.created") resolve(event);
    };
  });
  await connection.setLocalDescription(await connection.createOffer());
  await new Promise((resolve) => {
    const check = () => connection.iceGatheringState === "complete" && resolve();
    connection.onicegatheringstatechange = check;
    check();
  });
  const response = await postOffer();
  const location = response.headers.get("Location");
  await connection.setRemoteDescription({ type: "answer", sdp: await response.text() });
  const event = await created;
  return { status: response.status, location, instructions: event.session.instructions };
})()
"""

POST_OFFER = """
window.postOffer = () => fetch(%s, {
  method: "POST",
  body: (window.testConnection || { localDescription: { sdp: "" } }).localDescription.sdp,
  headers: { Authorization: "Bearer " + %s, "Content-Type": "application/sdp" },
});
"""

POST_AGAIN = """
(async () => {
  const response = await postOffer();
  window.testConnection.close();
  return { status: response.status, why: (await response.json()).error.message };
})()
"""


async def test_a_page_posts_its_own_offer_with_a_client_secret(
    canary_simulator: Simulator, webrtc_service: str, tmp_path: Path
) -> None:
    """The other way in: the page calls the service itself (CORS) with a minted secret."""
    sim = canary_simulator
    server = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
    secret = await mint_client_secret(agent, server, api_base_url=sim.calls.api_base)
    quiet = write_wav(tmp_path / "quiet.wav", silence(500))
    flags = [*fake_microphone(quiet), *WEBRTC_FLAGS]
    async with Browser.launch(tmp_path / "profile", flags) as browser:
        page = await browser.new_page(webrtc_service, record_network=True)
        calls_url = f"{sim.calls.api_base}/calls"
        await page.evaluate(POST_OFFER % (json.dumps(calls_url), json.dumps(secret.value)))
        result = await asyncio.wait_for(
            page.evaluate(CALL_WITH_SECRET, await_promise=True), BROWSER_TIMEOUT
        )
        assert result["status"] == 201 and result["location"].startswith("/v1/realtime/calls/")
        assert result["instructions"] == agent.instructions  # the secret's configuration
        [call] = sim.calls.calls.values()
        assert call.media is not None and call.media.channel is not None

        sim.calls.clock = lambda: secret.expires_at + 1.0
        again = await asyncio.wait_for(
            page.evaluate(POST_AGAIN, await_promise=True), BROWSER_TIMEOUT
        )
        assert again["status"] == 401 and "expired" in again["why"]  # readable: CORS on errors
        assert CANARY_KEY not in await page.received()
        assert page.errors == [], await page.report()
