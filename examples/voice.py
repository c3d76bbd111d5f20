"""Audio: a WAV file in, the spoken answer written to a WAV file.

    python examples/voice.py --sample question.wav      # 1.5 s the simulator hears as speech
    agentkit run examples/voice.py --simulate --audio-in question.wav --audio-out answer.wav

``agentkit run`` converts the input (any rate, mono or stereo, 8/16-bit) to the session's
``pcm16`` (24 kHz mono), streams it in 50 ms chunks followed by silence so that server VAD ends
the turn, and writes the assistant's audio as a 24 kHz mono WAV. ``transcribe`` below does the
same with the library directly; run it with ``python examples/voice.py question.wav answer.wav``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

from agentkit import Agent, Endpoint, Session, tool
from agentkit.audio import Pcm, read_wav, to_session_format, write_wav
from agentkit.events import AudioDelta, ResponseFinished, TranscriptDone
from agentkit.testing import Scenario, Simulator, silence, speech

_HOURS = {"weekday": "9:00 to 20:00", "saturday": "10:00 to 17:00", "sunday": "closed"}


@tool
def opening_hours(day: Literal["weekday", "saturday", "sunday"]) -> str:
    """When the library is open.

    Args:
        day: which kind of day.
    """
    return _HOURS[day]


agent = Agent(
    name="library",
    instructions="You are the voice of the city library. Answer in one short spoken sentence.",
    tools=[opening_hours],
    modality="audio",
    voice="marin",
)

# Whatever the caller says, the scripted "model" looks up Saturday's hours and answers aloud.
scenario = (
    Scenario()
    .on_audio()
    .call("opening_hours", day="saturday")
    .say(lambda out: f"On Saturdays the library is open {out.raw('opening_hours')}.")
    .otherwise("Ask me when the library is open.")
)


async def answer_aloud(session: Session, question: Pcm) -> tuple[bytes, str]:
    """Speak ``question`` into the session; return the spoken answer (pcm16) and its transcript."""
    pcm = to_session_format(question, session.agent.input_audio_format)
    for start in range(0, len(pcm), 2400):  # 50 ms chunks
        await session.send_audio(pcm[start : start + 2400])
    await session.send_audio(silence(1000))  # server VAD ends the turn after the silence
    spoken, words = bytearray(), []
    async for event in session:
        if isinstance(event, AudioDelta):
            spoken += event.audio()
        elif isinstance(event, TranscriptDone):
            words.append(event.text)
        elif isinstance(event, ResponseFinished) and session.idle:
            break
    return bytes(spoken), " ".join(words)


async def transcribe(question_wav: str, answer_wav: str) -> str:
    """Ask the question in ``question_wav`` (against the simulator) and save the answer."""
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint) as session:
            spoken, text = await answer_aloud(session, read_wav(question_wav))
    write_wav(answer_wav, spoken)  # pcm16: 24 kHz mono
    return text


def write_sample(path: str) -> str:
    """Write 1.5 s of simulated speech to ``path``; return what to run next."""
    write_wav(path, speech(1500))
    return (
        f"wrote 1.5 s of simulated speech to {path} (24 kHz mono); now try:\n"
        f"  agentkit run examples/voice.py --simulate --audio-in {path} --audio-out answer.wav"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sample":
        print(write_sample(sys.argv[2]))
    elif len(sys.argv) == 3:
        print(asyncio.run(transcribe(sys.argv[1], sys.argv[2])))
        print(f"(the spoken answer is in {sys.argv[2]})")
    else:
        sys.exit("usage: python examples/voice.py (--sample OUT.wav | IN.wav OUT.wav)")
