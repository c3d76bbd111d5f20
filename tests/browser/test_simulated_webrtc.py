"""The simulator's WebRTC media with a Python peer (aiortc) in place of the browser.

The peer speaks on a real audio track; the simulator hears it with its VAD, the scenario calls a
tool that the application's server runs over the sideband, and the answer comes back as audio on
the simulator's track and as events on the ``oai-events`` data channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from agentkit import Endpoint, Session
from agentkit.calls import CallControl, mint_client_secret
from agentkit.events import ToolCallFinished
from agentkit.testing import Simulator, silence, speech
from agentkit.testing.webrtc import upsample
from examples.webapp.app import create_app
from tests.browser.conftest import ANSWER, ORDER
from tests.browser.server import serve
from tests.calls.support import CANARY_KEY, order_agent
from tests.dispatch.loopback import Recorder
from tests.support import TIMEOUT

aiortc = pytest.importorskip("aiortc", reason="the dev extra installs aiortc")

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

from agentkit.testing.scenario import Scenario  # noqa: E402
from agentkit.testing.webrtc import _speaker_track  # noqa: E402

WAIT = 6 * TIMEOUT


def scenario() -> Scenario:
    return (
        Scenario()
        .on_audio()
        .call("order_status", order_id="42")
        .then()
        .say("Your order shipped.")
        .scenario
    )


class Caller:
    """A browser stand-in: a peer connection with a microphone track and the events channel."""

    def __init__(self) -> None:
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.microphone: Any = _speaker_track(lambda events: None)
        self.connection.addTrack(self.microphone)
        self.channel = self.connection.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.event_arrived = asyncio.Event()
        self.heard: list[float] = []  # RMS of each received 20 ms frame
        self.frame_arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("message", self._on_message)
        self.connection.on("track", self._on_track)

    async def offer(self) -> str:
        await self.connection.setLocalDescription(await self.connection.createOffer())
        return self.connection.localDescription.sdp

    async def answered(self, sdp: str) -> None:
        await self.connection.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    def say(self, pcm24: bytes) -> None:
        self.microphone.play("question", pcm24)

    async def event(self, kind: str) -> dict[str, Any]:
        async def seen() -> dict[str, Any]:
            while True:
                for event in self.events:
                    if event["type"] == kind:
                        return event
                self.event_arrived.clear()
                await self.event_arrived.wait()

        return await asyncio.wait_for(seen(), WAIT)

    async def frames(self, count: int) -> list[float]:
        """Wait until ``count`` frames of the simulator's track have arrived."""

        async def arrived() -> None:
            while len(self.heard) < count:
                self.frame_arrived.clear()
                await self.frame_arrived.wait()

        await asyncio.wait_for(arrived(), WAIT)
        return self.heard

    async def close(self) -> None:
        await self.connection.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_message(self, message: str | bytes) -> None:
        self.events.append(json.loads(message))
        self.event_arrived.set()

    def _on_track(self, track: Any) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._listen(track)))

    async def _listen(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                pcm = bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)]
                count = len(pcm) // 2
                samples = struct.unpack(f"<{count}h", pcm)
                self.heard.append(math.sqrt(sum(s * s for s in samples) / count) / 32768)
                self.frame_arrived.set()
        except MediaStreamError:
            pass


@asynccontextmanager
async def caller() -> AsyncIterator[Caller]:
    peer = Caller()
    try:
        yield peer
    finally:
        await peer.close()


async def test_a_peer_with_a_client_secret_is_heard_and_answered_over_real_media() -> None:
    async with Simulator(scenario(), api_key=CANARY_KEY) as sim, caller() as peer:
        server = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        agent = order_agent()
        secret = await mint_client_secret(agent, server, api_base_url=sim.calls.api_base)
        browser_side = Endpoint.custom(sim.openai_url(), credential=secret.value)
        answer = await CallControl(browser_side, api_base_url=sim.calls.api_base).create_call(
            await peer.offer()
        )
        assert "a=fingerprint:" in answer.sdp and CANARY_KEY not in answer.sdp
        await peer.answered(answer.sdp)
        created = await peer.event("session.created")
        assert created["session"]["instructions"] == agent.instructions  # the secret's config

        session = Session.attach(answer.call_id, agent, server)
        events = Recorder(session)
        async with session:
            peer.say(speech(800) + silence(900))
            done = await asyncio.wait_for(events.wait_for(ToolCallFinished), WAIT)
            assert done.output == "order 42 shipped"
            transcript = await peer.event("response.output_audio_transcript.done")
            assert transcript["transcript"] == "Your order shipped."
            await peer.event("output_audio_buffer.stopped")

        media = sim.calls.calls[answer.call_id].media
        assert media is not None and media.heard_ms > 1000
        assert await peer.event("input_audio_buffer.speech_started")
        # the tool's output went in over the sideband and reached the data channel too
        output = await peer.event("conversation.item.done")
        assert output is not None
        assert not [e for e in peer.events if e["type"] == "response.output_audio.delta"]
        loud = [level for level in peer.heard if level > 0.02]
        # 19 characters at 40 ms each: 760 ms of voice, in 20 ms frames
        assert len(loud) >= 30, f"heard {len(loud)} loud frames of {len(peer.heard)}"
        assert CANARY_KEY not in json.dumps(peer.events)


async def test_an_offer_with_media_is_refused_clearly_without_aiortc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentkit.calls import CallRequestError
    from agentkit.testing import webrtc

    monkeypatch.setattr(webrtc, "available", lambda: False)
    async with Simulator(api_key=CANARY_KEY) as sim, caller() as peer:
        control = CallControl(
            Endpoint.custom(sim.openai_url(), credential=CANARY_KEY),
            api_base_url=sim.calls.api_base,
        )
        with pytest.raises(CallRequestError) as refused:
            await control.create_call(await peer.offer())
    assert refused.value.status == 501 and "aiortc" in str(refused.value)


async def test_a_hang_up_ends_the_media_and_the_peer_leaving_ends_the_call() -> None:
    async with Simulator(scenario(), api_key=CANARY_KEY) as sim:
        server = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        control = CallControl(server, api_base_url=sim.calls.api_base)
        async with caller() as peer:
            answer = await control.create_call(await peer.offer(), order_agent())
            await peer.answered(answer.sdp)
            await peer.event("session.created")
            await control.hangup(answer.call_id)
        assert sim.calls.calls[answer.call_id].media is None

        async with caller() as peer:
            answer = await control.create_call(await peer.offer(), order_agent())
            await peer.answered(answer.sdp)
            await peer.event("session.created")
            session = Session.attach(answer.call_id, order_agent(), server)
            await session.start()
        # the peer closed its connection: the call ends and its sideband is closed
        record = sim.connections[-1]
        await record.wait_closed(WAIT)
        assert record.close_code == 1000
        assert sim.calls.calls[answer.call_id].status == "ended"
        await session.close()


def test_upsampling_doubles_the_rate_and_keeps_the_samples() -> None:
    pcm = struct.pack("<3h", 0, 100, -100)
    assert struct.unpack("<6h", upsample(pcm)) == (0, 50, 100, 0, -100, -100)


def post_offer(url: str, sdp: str, origin: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=sdp.encode(), method="POST")
    request.add_header("Content-Type", "application/sdp")
    if origin is not None:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


async def test_the_web_example_relays_an_offer_and_runs_the_tool_offline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("AGENTKIT_REALTIME_URL", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="examples.webapp"):
        async with serve(create_app()) as url, caller() as peer:
            status, body = await asyncio.to_thread(post_offer, f"{url}/call", await peer.offer())
            assert status == 201, body
            reply = json.loads(body)
            await peer.answered(reply["sdp"])
            await peer.event("session.created")
            peer.say(speech(800) + silence(900))
            transcript = await peer.event("response.output_audio_transcript.done")
            assert transcript["transcript"] == ANSWER
            [output] = [
                event["item"]["output"]
                for event in peer.events
                if event["type"] == "conversation.item.done"
                and event["item"]["type"] == "function_call_output"
            ]
            assert json.loads(output) == ORDER  # run by the example's server, on the sideband
            hangup = f"{url}/call/{reply['call_id']}/hangup"
            assert (await asyncio.to_thread(post_offer, hangup, ""))[0] == 204
            assert (await asyncio.to_thread(post_offer, hangup, ""))[0] == 404  # ended
    assert "using an in-process simulator" in caplog.text


async def test_the_web_example_refuses_other_sites_and_non_offers() -> None:
    async with Simulator(scenario(), api_key=CANARY_KEY) as sim:
        endpoint = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        app = create_app(endpoint, api_base_url=sim.calls.api_base)
        async with serve(app) as url, caller() as peer:
            offer = await peer.offer()
            evil = await asyncio.to_thread(post_offer, f"{url}/call", offer, "https://evil.example")
            assert evil[0] == 403
            assert (await asyncio.to_thread(post_offer, f"{url}/call", "hello"))[0] == 400
            hangup = f"{url}/call/rtc_unknown/hangup"
            assert (await asyncio.to_thread(post_offer, hangup, ""))[0] == 404
        assert sim.calls.calls == {}  # nothing reached the service


async def test_speech_over_the_answer_stops_its_audio_on_the_track() -> None:
    long_answer = Scenario().on_audio().say("A long answer, " * 20).scenario  # 12 s of voice
    async with Simulator(long_answer, api_key=CANARY_KEY) as sim, caller() as peer:
        server = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        control = CallControl(server, api_base_url=sim.calls.api_base)
        answer = await control.create_call(await peer.offer(), order_agent())
        await peer.answered(answer.sdp)
        await peer.event("session.created")
        peer.say(speech(600) + silence(700))
        started = await peer.event("output_audio_buffer.started")
        peer.say(speech(400) + silence(700))  # the caller talks over the answer
        cleared = await peer.event("output_audio_buffer.cleared")
        assert cleared["response_id"] == started["response_id"]
        cut = len(peer.heard)
        # The next answer starts after the second question ends; until then, silence. Frames
        # already on their way when the audio was cut (and the decoder's fade) come first.
        tail = (await peer.frames(cut + 20))[cut + 10 : cut + 20]
        assert max(tail) < 0.02, tail
        types = [event["type"] for event in peer.events]
        assert types.index(
            "input_audio_buffer.speech_started", types.index("output_audio_buffer.started")
        ) < types.index("output_audio_buffer.cleared")
