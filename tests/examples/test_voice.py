"""examples/voice.py: a WAV question in, the spoken answer out, through the library API."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from agentkit.audio import Pcm, read_wav, write_wav
from agentkit.testing import silence, speech
from tests.examples.helpers import load_example
from tests.support import TIMEOUT

voice = load_example("voice")


def stereo_16k(pcm24k: bytes) -> Pcm:
    """The same clip as a 16 kHz stereo file, as a phone or a DAW might write it."""
    samples = memoryview(pcm24k).cast("h")
    picked = [samples[i * 3 // 2] for i in range(len(samples) * 2 // 3)]
    frames = memoryview(bytearray(len(picked) * 4)).cast("h")
    for i, sample in enumerate(picked):
        frames[2 * i] = frames[2 * i + 1] = sample
    return Pcm(frames.tobytes(), rate=16_000, channels=2)


async def test_question_wav_to_answer_wav(tmp_path: Path) -> None:
    question, answer = tmp_path / "question.wav", tmp_path / "answer.wav"
    write_wav(question, stereo_16k(silence(200) + speech(1200)))
    text = await asyncio.wait_for(voice.transcribe(str(question), str(answer)), TIMEOUT)
    assert text == "On Saturdays the library is open 10:00 to 17:00."
    with wave.open(str(answer)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24_000, 1, 2)
    spoken = read_wav(answer)
    assert spoken.duration_s == len(text) * 0.040  # the simulator speaks 40 ms per character
