"""Audio files and formats: WAV in and out, channel mixing, resampling, G.711 codecs.

The Realtime API speaks ``pcm16`` (24 kHz, mono, 16-bit little-endian) or, on request, G.711
µ-law / A-law at 8 kHz. Microphones and files rarely match, so this module converts between a
:class:`Pcm` clip (any rate, any channel count) and what a session sends or receives.
Standard library only: ``audioop`` is gone in Python 3.13, so the small resampler and the two
G.711 codecs are written out here (G.711 as in ITU-T G.711 and CPython's old ``audioop``).
"""

from __future__ import annotations

import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from agentkit.protocol.config import AudioFormat

__all__ = [
    "SAMPLE_RATE",
    "Pcm",
    "alaw_decode",
    "alaw_encode",
    "from_session_format",
    "read_wav",
    "resample",
    "to_mono",
    "to_session_format",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]

SAMPLE_RATE = 24_000
"""Samples per second of the ``pcm16`` session format."""

G711_RATE = 8_000
"""Samples per second of ``g711_ulaw`` and ``g711_alaw``."""


@dataclass(frozen=True)
class Pcm:
    """A clip of 16-bit little-endian PCM; ``data`` interleaves ``channels`` channels."""

    data: bytes
    rate: int = SAMPLE_RATE
    channels: int = 1

    @property
    def duration_s(self) -> float:
        return len(self.data) / (2 * self.channels * self.rate)


def read_wav(path: str | Path) -> Pcm:
    """Read a PCM WAV file (8- or 16-bit, any rate, any channel count) as 16-bit PCM.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a WAV file, compressed, or an unsupported sample width; the message
            names the file and what was found.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            width, rate, channels = wav.getsampwidth(), wav.getframerate(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from exc
    if width == 1:  # 8-bit WAV is unsigned
        frames = _samples_to_bytes(array("h", ((b - 128) << 8 for b in frames)))
    elif width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples; use 8- or 16-bit PCM")
    if rate <= 0 or channels <= 0:
        raise ValueError(f"{path}: invalid header ({rate} Hz, {channels} channels)")
    return Pcm(frames, rate, channels)


def write_wav(path: str | Path, pcm: Pcm | bytes) -> None:
    """Write 16-bit PCM as a WAV file; bare bytes are ``pcm16`` (24 kHz mono)."""
    clip = pcm if isinstance(pcm, Pcm) else Pcm(pcm)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(clip.channels)
        wav.setsampwidth(2)
        wav.setframerate(clip.rate)
        wav.writeframes(clip.data)


def to_mono(pcm: Pcm) -> Pcm:
    """Average the channels into one."""
    if pcm.channels == 1:
        return pcm
    samples = _bytes_to_samples(pcm.data)
    n = pcm.channels
    usable = len(samples) - len(samples) % n
    mixed = array("h", (sum(samples[i : i + n]) // n for i in range(0, usable, n)))
    return Pcm(_samples_to_bytes(mixed), pcm.rate, 1)


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Change the sample rate of a mono clip by linear interpolation.

    Linear interpolation is enough for speech sent to a speech model; it is not a mastering-grade
    filter (downsampling by large factors aliases a little).
    """
    if pcm.channels != 1:
        raise ValueError("resample needs mono audio; call to_mono first")
    if pcm.rate == rate:
        return pcm
    source = _bytes_to_samples(pcm.data)
    if not source:
        return Pcm(b"", rate, 1)
    count = len(source) * rate // pcm.rate
    step = pcm.rate / rate
    last = len(source) - 1
    out = array("h", bytes(2 * count))
    for i in range(count):
        position = i * step
        left = int(position)
        right = left + 1 if left < last else last
        fraction = position - left
        out[i] = int(round(source[left] + (source[right] - source[left]) * fraction))
    return Pcm(_samples_to_bytes(out), rate, 1)


def to_session_format(pcm: Pcm, audio_format: AudioFormat = "pcm16") -> bytes:
    """Bytes to send with ``Session.send_audio``: mono, at the format's rate, encoded."""
    mono = to_mono(pcm)
    if audio_format == "pcm16":
        return resample(mono, SAMPLE_RATE).data
    narrow = resample(mono, G711_RATE).data
    return ulaw_encode(narrow) if audio_format == "g711_ulaw" else alaw_encode(narrow)


def from_session_format(data: bytes, audio_format: AudioFormat = "pcm16") -> bytes:
    """``pcm16`` (24 kHz mono) from audio a session received in ``audio_format``."""
    if audio_format == "pcm16":
        return data
    decoded = ulaw_decode(data) if audio_format == "g711_ulaw" else alaw_decode(data)
    return resample(Pcm(decoded, G711_RATE), SAMPLE_RATE).data


# -- G.711 ---------------------------------------------------------------------------------

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # of 14-bit samples


def _ulaw_byte(sample: int) -> int:
    value = sample >> 2  # µ-law codes 14-bit samples
    if value >= 0:
        mask = 0xFF
    else:
        mask = 0x7F
        value = -value
    value = min(value, _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = max(value.bit_length() - 6, 0)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def _ulaw_sample(byte: int) -> int:
    byte = ~byte & 0xFF
    exponent, mantissa = (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return -magnitude if byte & 0x80 else magnitude


def _alaw_byte(sample: int) -> int:
    value = sample >> 3  # A-law codes 13-bit samples
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    segment = max(value.bit_length() - 5, 0)
    if segment >= 8:
        return 0x7F ^ mask
    shift = 1 if segment < 2 else segment
    return ((segment << 4) | ((value >> shift) & 0x0F)) ^ mask


def _alaw_sample(byte: int) -> int:
    byte ^= 0x55
    segment = (byte & 0x70) >> 4
    magnitude = (byte & 0x0F) << 4
    if segment == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if byte & 0x80 else -magnitude


_ULAW_DECODE = array("h", (_ulaw_sample(b) for b in range(256)))
_ALAW_DECODE = array("h", (_alaw_sample(b) for b in range(256)))


def ulaw_encode(pcm: bytes) -> bytes:
    """G.711 µ-law bytes from 16-bit PCM (one byte per sample)."""
    return bytes(_ulaw_byte(s) for s in _bytes_to_samples(pcm))


def ulaw_decode(data: bytes) -> bytes:
    """16-bit PCM from G.711 µ-law bytes."""
    return _samples_to_bytes(array("h", (_ULAW_DECODE[b] for b in data)))


def alaw_encode(pcm: bytes) -> bytes:
    """G.711 A-law bytes from 16-bit PCM (one byte per sample)."""
    return bytes(_alaw_byte(s) for s in _bytes_to_samples(pcm))


def alaw_decode(data: bytes) -> bytes:
    """16-bit PCM from G.711 A-law bytes."""
    return _samples_to_bytes(array("h", (_ALAW_DECODE[b] for b in data)))


# -- little-endian sample arrays -------------------------------------------------------------


def _bytes_to_samples(data: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(data[: len(data) - len(data) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _samples_to_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()
