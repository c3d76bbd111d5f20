"""A sans-I/O imitation of the service's ``server_vad`` turn detection, driven by PCM16 energy.

Audio is cut into 10 ms frames. A frame is *speech* when its RMS (a fraction of full scale)
exceeds ``threshold / 10`` - so the default threshold 0.5 needs an RMS above 0.05, which
:func:`agentkit.testing.audio.speech` clears and :func:`agentkit.testing.audio.silence` does not.
Speech starts on the first speech frame and stops after ``silence_duration_ms`` of silence,
like ``input_audio_buffer.speech_started`` / ``input_audio_buffer.speech_stopped``. With
``idle_timeout_ms``, that much audio with no speech since the last boundary is a timeout, like
``input_audio_buffer.timeout_triggered`` (the service counts wall-clock time after its last
response; the simulator counts audio, which keeps tests deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentkit.testing.audio import BYTES_PER_MS, rms

__all__ = ["FRAME_MS", "ServerVad", "VadEvent"]

FRAME_MS = 10
_FRAME_BYTES = FRAME_MS * BYTES_PER_MS


@dataclass(frozen=True)
class VadEvent:
    """Speech started or stopped, or the idle timeout passed, at ``audio_ms`` (milliseconds since
    the session's first audio); a timeout's silence began at ``since_ms``."""

    kind: Literal["started", "stopped", "timeout"]
    audio_ms: int
    since_ms: int = 0


class ServerVad:
    """Feeds on appended audio and reports speech boundaries; knows nothing of sockets.

    Args:
        threshold: 0..1 as in ``turn_detection.threshold``; higher needs louder audio.
        prefix_padding_ms: reported start is this much before the first speech frame.
        silence_duration_ms: silence needed before speech counts as stopped.
        idle_timeout_ms: silence, outside speech, after which a timeout is reported.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        idle_timeout_ms: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.in_speech = False
        self._pending = b""
        self._position_ms = 0
        self._silence_ms = 0
        self._last_speech_end_ms = 0
        self.idle_timeout_ms = idle_timeout_ms
        self._idle_since_ms = 0

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Consume audio; return the boundaries it completes, in order."""
        self._pending += pcm
        events: list[VadEvent] = []
        while len(self._pending) >= _FRAME_BYTES:
            frame, self._pending = self._pending[:_FRAME_BYTES], self._pending[_FRAME_BYTES:]
            event = self._frame(rms(frame) > self.threshold / 10)
            if event is not None:
                events.append(event)
        return events

    def reset(self) -> None:
        """Forget a half-heard utterance (``input_audio_buffer.clear``), keeping the clock."""
        self.in_speech = False
        self._pending = b""
        self._silence_ms = 0

    def _frame(self, is_speech: bool) -> VadEvent | None:
        start = self._position_ms
        self._position_ms += FRAME_MS
        if is_speech:
            self._silence_ms = 0
            self._last_speech_end_ms = self._position_ms
            if not self.in_speech:
                self.in_speech = True
                return VadEvent("started", max(0, start - self.prefix_padding_ms))
            return None
        if not self.in_speech:
            return self._idle(self._position_ms)
        self._silence_ms += FRAME_MS
        if self._silence_ms >= self.silence_duration_ms:
            self.in_speech = False
            self._idle_since_ms = self._position_ms
            return VadEvent("stopped", self._last_speech_end_ms)
        return None

    def _idle(self, now_ms: int) -> VadEvent | None:
        limit = self.idle_timeout_ms
        if limit is None or now_ms - self._idle_since_ms < limit:
            return None
        since, self._idle_since_ms = self._idle_since_ms, now_ms
        return VadEvent("timeout", now_ms, since)
