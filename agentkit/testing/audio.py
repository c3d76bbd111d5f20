"""PCM16 24 kHz mono helpers: the synthetic voice of the simulator and test input audio.

The simulator never plays real speech. Its "voice" is a quiet sine tone whose length scales with the
transcript, so a client that measures played audio (for ``conversation.item.truncate``) gets
numbers it can reason about. :func:`speech` and :func:`silence` build input audio that the
simulated server VAD (:mod:`agentkit.testing.vad`) hears as speech or as a pause.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator

__all__ = [
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "chunk",
    "duration_ms",
    "rms",
    "silence",
    "speech",
    "synthesize",
    "to_base64",
]

SAMPLE_RATE = 24_000
"""Samples per second of ``pcm16`` / ``audio/pcm`` (the only GA rate)."""

BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
"""48 bytes of 16-bit mono audio per millisecond."""

MS_PER_CHARACTER = 40
"""How long the synthetic voice takes to 'say' one character of a transcript."""


def tone(ms: int, amplitude: float, frequency: float = 440.0) -> bytes:
    """A sine tone of ``ms`` milliseconds at ``amplitude`` (fraction of full scale)."""
    peak = int(32767 * amplitude)
    samples = ms * SAMPLE_RATE // 1000
    step = 2 * math.pi * frequency / SAMPLE_RATE
    values = (int(peak * math.sin(step * i)) for i in range(samples))
    return struct.pack(f"<{samples}h", *values)


def speech(ms: int, amplitude: float = 0.3) -> bytes:
    """Input audio the simulated VAD hears as speech (a loud 220 Hz tone)."""
    return tone(ms, amplitude, frequency=220.0)


def silence(ms: int) -> bytes:
    """Input audio the simulated VAD hears as silence."""
    return bytes(ms * BYTES_PER_MS)


def synthesize(transcript: str) -> bytes:
    """The deterministic audio the simulator 'speaks' for ``transcript`` (40 ms per character)."""
    return tone(max(1, len(transcript)) * MS_PER_CHARACTER, amplitude=0.1)


def chunk(pcm: bytes, chunk_ms: int = 100) -> Iterator[bytes]:
    """Split audio into chunks of ``chunk_ms`` (the last one may be shorter)."""
    size = chunk_ms * BYTES_PER_MS
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


def duration_ms(pcm: bytes | int) -> int:
    """Milliseconds of PCM16 24 kHz mono audio in ``pcm`` (bytes, or a byte count)."""
    size = pcm if isinstance(pcm, int) else len(pcm)
    return size // BYTES_PER_MS


def rms(pcm: bytes) -> float:
    """Root mean square of PCM16 samples as a fraction of full scale (0.0 to 1.0)."""
    count = len(pcm) // 2
    if count == 0:
        return 0.0
    samples = struct.unpack(f"<{count}h", pcm[: count * 2])
    return math.sqrt(sum(s * s for s in samples) / count) / 32768


def to_base64(pcm: bytes) -> str:
    """Base64 text, as audio travels inside JSON events."""
    return base64.b64encode(pcm).decode("ascii")
