"""Real WebRTC media for the simulator's calls, on the machine's own addresses.

When a browser's SDP offer reaches the simulator (posted with a client secret, or relayed by the
application's server), :func:`answer` answers it with a real peer connection (``aiortc``, an
optional test dependency: ``pip install aiortc``; imported only here, only when an offer comes).

* The caller's audio track (Opus, 48 kHz) is decoded, turned into PCM16 24 kHz mono and fed to
  the call's conversation as appended audio: the simulator's VAD and scenario hear it exactly as
  they hear ``input_audio_buffer.append`` on a WebSocket.
* The answers' audio goes back on the simulator's own track, 48 kHz, paced in real time, between
  ``output_audio_buffer.started`` and ``output_audio_buffer.stopped``; no
  ``response.output_audio.delta`` is sent on any channel, as on the service.
* Server events go on the ``oai-events`` data channel the browser opens, and client events sent
  there are answered like a socket's; the call's sidebands get the same events.
* The call ends when the caller's peer connection closes or fails (its sidebands close with
  1000), or on a hang-up.

No STUN or TURN server is used: ICE pairs host candidates only, so both peers must run on this
machine (the simulator gathers every address but ``127.0.0.1``, as ``aioice`` does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fractions
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from agentkit.audio import Pcm, resample
from agentkit.testing.audio import SAMPLE_RATE
from agentkit.testing.session_config import turn_detection

if TYPE_CHECKING:
    from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection
    from av import AudioFrame

    from agentkit.testing.calls import SimulatedCall

__all__ = ["MISSING", "OUTPUT_RATE", "WebRtcMedia", "answer", "available", "upsample"]

log = logging.getLogger("agentkit.testing")
Event = dict[str, Any]

MISSING = (
    "the simulator answers WebRTC offers with real media only when aiortc is installed: "
    "pip install aiortc (it is part of agentkit's dev extra)"
)
OUTPUT_RATE = 48_000
"""WebRTC's audio rate: the simulator's 24 kHz voice is resampled to it."""
FRAME_SAMPLES = OUTPUT_RATE // 50
"""20 ms of outgoing audio per RTP packet."""
EVENTS_CHANNEL = "oai-events"


def available() -> bool:
    """Whether ``aiortc`` can be imported (then offers get real media)."""
    try:
        import aiortc  # noqa: F401
    except ImportError:
        return False
    return True


async def answer(
    call: SimulatedCall,
    offer: str,
    *,
    stream_delay: float = 0.0,
    log_client_event: Callable[[Event], None] = lambda event: None,
) -> tuple[WebRtcMedia, str]:
    """Answer ``offer`` for ``call`` with a live peer connection; return it and the SDP answer.

    ``log_client_event`` sees each client event the data channel brings.

    Raises:
        ValueError: the offer cannot be answered (no audio, no common codec...).
    """
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    # No ice servers: aiortc would otherwise ask a public STUN server.
    connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    media = WebRtcMedia(call, connection, stream_delay, log_client_event)
    try:
        await connection.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        if not any(t.kind == "audio" for t in connection.getTransceivers()):
            raise ValueError("the offer has no audio")
        connection.addTrack(cast("MediaStreamTrack", media.speaker))
        await connection.setLocalDescription(await connection.createAnswer())
    except Exception as exc:
        await media.close()
        raise ValueError(str(exc) or type(exc).__name__) from None
    return media, connection.localDescription.sdp


class WebRtcMedia:
    """One call's peer connection: hears the caller, speaks the answers, carries the events."""

    def __init__(
        self,
        call: SimulatedCall,
        connection: RTCPeerConnection,
        stream_delay: float,
        log_client_event: Callable[[Event], None],
    ) -> None:
        from agentkit.testing.calls import CallReader

        self.call = call
        self.connection = connection
        self.stream_delay = stream_delay
        self.speaker = _speaker_track(self._emit)
        self.channel: RTCDataChannel | None = None
        self.reader = CallReader(self._wake)
        self.heard_ms = 0
        """Milliseconds of the caller's audio fed to the conversation so far."""
        self.client_events: list[Event] = []
        """Client events that came on the data channel."""
        self._log = log_client_event
        self._woken = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended: list[Callable[[], None]] = []
        self._closed = False
        connection.on("track", self._on_track)
        connection.on("datachannel", self._on_channel)
        connection.on("connectionstatechange", self._on_state)

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the caller's peer connection closes or fails (the callback
        then closes this media)."""
        self._ended.append(callback)

    # -- CallMedia ------------------------------------------------------------------------

    def takes(self, event: Event) -> bool:
        """Output audio is played on the track, not sent as events."""
        if event.get("type") == "input_audio_buffer.speech_started":
            # The caller talks over the answer: the service stops playing it (after telling
            # the readers that speech started).
            asyncio.get_running_loop().call_soon(self._cut_off)
        if event.get("type") != "response.output_audio.delta":
            return False
        self.speaker.play(str(event.get("response_id", "")), base64.b64decode(event["delta"]))
        return True

    def answer_client(self, frame: str | bytes) -> list[Event] | None:
        with contextlib.suppress(ValueError, TypeError):
            if json.loads(frame).get("type") == "output_audio_buffer.clear":
                response_id = self.speaker.clear()
                return self._stamped(
                    [{"type": "output_audio_buffer.cleared", "response_id": response_id}]
                )
        return None

    def _cut_off(self) -> None:
        state = self.call.state
        if state is None or self.speaker.playing is None:
            return
        turn = turn_detection(state.session, state.dialect)
        if not isinstance(turn, Mapping) or turn.get("interrupt_response", True):
            self._emit(
                [{"type": "output_audio_buffer.cleared", "response_id": self.speaker.clear()}]
            )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ended.clear()  # closed from this side: the call's owner is ending it already
        cast("MediaStreamTrack", self.speaker).stop()
        await self.connection.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.reader in self.call.readers:
            self.call.readers.remove(self.reader)

    # -- the caller's audio ---------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._own(self._listen(track))

    async def _listen(self, track: MediaStreamTrack) -> None:
        from aiortc.mediastreams import MediaStreamError
        from av import AudioResampler

        resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = cast("AudioFrame", await track.recv())
                pcm = b"".join(
                    bytes(out.planes[0])[: out.samples * 2] for out in resampler.resample(frame)
                )
                if pcm:
                    self._hear(pcm)

    def _hear(self, pcm: bytes) -> None:
        state = self.call.state
        if state is None or self.call.status != "active":
            return
        self.heard_ms += len(pcm) // (SAMPLE_RATE * 2 // 1000)
        appended = {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        self.call.publish(state.receive(appended))

    # -- events on the data channel -------------------------------------------------------

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_CHANNEL or self.channel is not None:
            return
        self.channel = channel
        channel.on("message", self._on_message)
        state = self.call.state
        if state is not None:
            self.reader.pending.extend(state.open())
        self.call.readers.append(self.reader)
        self._woken.set()  # session.created goes out now, before anything else happens
        self._own(self._pump())

    def _on_message(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
        except ValueError:
            event = None
        if isinstance(event, dict):
            self.client_events.append(event)
            self._log(event)
        self.call.publish(self.call.answer_client(message))

    def _wake(self) -> None:
        self._woken.set()

    async def _pump(self) -> None:
        channel = self.channel
        assert channel is not None
        while True:
            await self._woken.wait()
            self._woken.clear()
            event = self.call.next_for(self.reader)
            while event is not None:
                if channel.readyState != "open":
                    return
                channel.send(json.dumps(event))
                await asyncio.sleep(self.stream_delay)
                event = self.call.next_for(self.reader)

    def _emit(self, events: list[Event]) -> None:
        self.call.publish(self._stamped(events))

    def _stamped(self, events: list[Event]) -> list[Event]:
        state = self.call.state
        return state._stamp(events) if state is not None else events

    # -- lifecycle ------------------------------------------------------------------------

    def _on_state(self) -> None:
        if self.connection.connectionState in ("failed", "closed"):
            callbacks, self._ended = self._ended, []
            for callback in callbacks:
                callback()

    def _own(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def upsample(pcm: bytes) -> bytes:
    """PCM16 24 kHz to 48 kHz by linear interpolation."""
    return resample(Pcm(pcm[: len(pcm) // 2 * 2], SAMPLE_RATE, 1), OUTPUT_RATE).data


def _speaker_track(emit: Callable[[list[Event]], None]) -> _SpeakerTrack:
    from aiortc import MediaStreamTrack

    class SpeakerTrack(MediaStreamTrack, _SpeakerTrack):
        kind = "audio"

        def __init__(self) -> None:
            MediaStreamTrack.__init__(self)
            _SpeakerTrack.__init__(self, emit)

        async def recv(self) -> Any:
            return await self._next_frame()

    return SpeakerTrack()


class _SpeakerTrack:
    """The simulator's voice: 48 kHz mono frames of 20 ms, paced in real time, silence between
    answers; reports when each answer's audio starts and stops playing."""

    def __init__(self, emit: Callable[[list[Event]], None]) -> None:
        self._emit = emit
        self._queue: deque[tuple[str, bytes]] = deque()
        self.playing: str | None = None
        """The answer whose audio is playing, if any."""
        self._start: float | None = None
        self._sent = 0

    def play(self, response_id: str, pcm24: bytes) -> None:
        self._queue.append((response_id, upsample(pcm24)))

    def clear(self) -> str | None:
        """Drop what is not played yet; the answer it belonged to."""
        self._queue.clear()
        playing, self.playing = self.playing, None
        return playing

    async def _next_frame(self) -> Any:
        from aiortc.mediastreams import MediaStreamError
        from av import AudioFrame

        if getattr(self, "readyState", "live") != "live":
            raise MediaStreamError

        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            await asyncio.sleep(self._start + self._sent / OUTPUT_RATE - loop.time())
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._take(FRAME_SAMPLES * 2))
        frame.pts = self._sent
        frame.sample_rate = OUTPUT_RATE
        frame.time_base = fractions.Fraction(1, OUTPUT_RATE)
        self._sent += FRAME_SAMPLES
        return frame

    def _take(self, size: int) -> bytes:
        taken = b""
        while len(taken) < size and self._queue:
            response_id, pcm = self._queue.popleft()
            if response_id != self.playing:
                self._switch(response_id)
            need = size - len(taken)
            taken += pcm[:need]
            if len(pcm) > need:
                self._queue.appendleft((response_id, pcm[need:]))
        if not self._queue and self.playing is not None and len(taken) < size:
            self._switch(None)
        return taken + bytes(size - len(taken))

    def _switch(self, response_id: str | None) -> None:
        events: list[Event] = []
        if self.playing is not None:
            events.append({"type": "output_audio_buffer.stopped", "response_id": self.playing})
        if response_id is not None:
            events.append({"type": "output_audio_buffer.started", "response_id": response_id})
        self.playing = response_id
        if events:
            self._emit(events)
