"""agentkit.audio: WAV files, channel mixing, resampling and the G.711 codecs."""

from __future__ import annotations

import math
import struct
import warnings
import wave
from pathlib import Path
from types import ModuleType

import pytest

from agentkit import audio
from agentkit.audio import Pcm


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def sine(rate: int, ms: int, hz: float = 440.0) -> bytes:
    count = rate * ms // 1000
    return pcm(*(int(10_000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(count)))


def test_wav_round_trip(tmp_path: Path) -> None:
    clip = Pcm(pcm(0, 1, -1, 32767, -32768, 5), rate=16_000, channels=2)
    audio.write_wav(tmp_path / "x.wav", clip)
    assert audio.read_wav(tmp_path / "x.wav") == clip


def test_bare_bytes_are_written_as_pcm16(tmp_path: Path) -> None:
    audio.write_wav(tmp_path / "x.wav", pcm(1, 2, 3))
    with wave.open(str(tmp_path / "x.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24_000, 1, 2)


def test_8_bit_wav_is_widened(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "x.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes([128, 255, 0]))
    assert samples(audio.read_wav(tmp_path / "x.wav").data) == [0, 127 << 8, -128 << 8]


def test_unsupported_files_raise_value_error(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio")
    with pytest.raises(ValueError, match="notes.wav: not a PCM WAV file"):
        audio.read_wav(tmp_path / "notes.wav")
    with wave.open(str(tmp_path / "wide.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(3)
        wav.setframerate(48_000)
        wav.writeframes(bytes(6))
    with pytest.raises(ValueError, match="24-bit samples"):
        audio.read_wav(tmp_path / "wide.wav")
    with pytest.raises(FileNotFoundError):
        audio.read_wav(tmp_path / "missing.wav")


def test_to_mono_averages_channels() -> None:
    stereo = Pcm(pcm(100, 300, -50, -150, 7, 8), channels=2)
    assert audio.to_mono(stereo) == Pcm(pcm(200, -100, 7), channels=1)


def test_resample_keeps_duration_and_shape() -> None:
    reference = samples(sine(24_000, 500))
    for rate in (16_000, 44_100, 48_000):
        converted = audio.resample(Pcm(sine(rate, 500), rate=rate), 24_000)
        assert (converted.rate, converted.duration_s) == (24_000, 0.5)
        # Linear interpolation of a 440 Hz tone stays close to the true curve (the last sample
        # is held, not extrapolated).
        errors = [
            abs(a - b) for a, b in zip(samples(converted.data)[:-1], reference[:-1], strict=True)
        ]
        assert max(errors) < 60


def test_resample_edge_cases() -> None:
    assert audio.resample(Pcm(b"", rate=8000), 24_000) == Pcm(b"", rate=24_000)
    assert samples(audio.resample(Pcm(pcm(1000), rate=8000), 24_000).data) == [1000] * 3
    with pytest.raises(ValueError, match="mono"):
        audio.resample(Pcm(pcm(1, 2), channels=2), 8000)


def test_to_session_format_converts_everything() -> None:
    stereo_44k = Pcm(sine(44_100, 200) * 2, rate=44_100, channels=2)
    assert len(audio.to_session_format(stereo_44k)) == 24_000 * 2 // 5
    ulaw = audio.to_session_format(Pcm(sine(24_000, 100)), "g711_ulaw")
    assert len(ulaw) == 800  # 8 kHz, one byte per sample
    back = audio.from_session_format(ulaw, "g711_ulaw")
    assert len(back) == 100 * 48
    alaw = audio.to_session_format(Pcm(sine(24_000, 100)), "g711_alaw")
    assert len(audio.from_session_format(alaw, "g711_alaw")) == 100 * 48
    assert audio.from_session_format(b"\x01\x02", "pcm16") == b"\x01\x02"


def test_g711_known_values() -> None:
    assert audio.ulaw_encode(pcm(0, 32767, -32768)) == bytes([0xFF, 0x80, 0x00])
    assert audio.alaw_encode(pcm(0, 32767, -32768)) == bytes([0xD5, 0xAA, 0x2A])
    assert samples(audio.ulaw_decode(bytes([0xFF, 0x80, 0x00]))) == [0, 32124, -32124]
    assert samples(audio.alaw_decode(bytes([0xD5, 0xAA, 0x2A]))) == [8, 32256, -32256]


@pytest.mark.parametrize("codec", ["ulaw", "alaw"])
def test_g711_round_trip_error_is_bounded(codec: str) -> None:
    encode = getattr(audio, f"{codec}_encode")
    decode = getattr(audio, f"{codec}_decode")
    values = list(range(-32768, 32768, 7))
    decoded = samples(decode(encode(pcm(*values))))
    for value, back in zip(values, decoded, strict=True):
        assert abs(value - back) <= max(16, abs(value) // 16)  # logarithmic quantisation


def _audioop() -> ModuleType | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # removed in Python 3.13
            return None
    return audioop


@pytest.mark.skipif(_audioop() is None, reason="audioop is gone in this Python")
def test_g711_matches_the_old_audioop_bit_for_bit() -> None:
    reference = _audioop()
    assert reference is not None
    every = pcm(*range(-32768, 32768))
    assert audio.ulaw_encode(every) == reference.lin2ulaw(every, 2)
    assert audio.alaw_encode(every) == reference.lin2alaw(every, 2)
    codes = bytes(range(256))
    assert audio.ulaw_decode(codes) == reference.ulaw2lin(codes, 2)
    assert audio.alaw_decode(codes) == reference.alaw2lin(codes, 2)
