"""User speech, transcribed: the app hears it, the history keeps it, a reconnect restores it."""

from __future__ import annotations

from agentkit import Agent, Endpoint, InputTranscription, Session, SessionOptions
from agentkit.events import Event, Reconnected, ResponseFinished, UserTranscript
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario, Simulator, silence, speech
from tests.support import until_event

SCENARIO = (
    Scenario(heard=["what is the weather in Oslo", "and tomorrow"])
    .on("weather").say("It is sunny in Oslo.")
    .on("tomorrow").say("Rain tomorrow.")
)  # fmt: skip
AGENT = Agent(instructions="x", input_transcription=InputTranscription(model="whisper-1"))
FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.02)


async def _say(session: Session) -> list[Event]:
    await session.send_audio(speech(400) + silence(700))
    return await until_event(session, ResponseFinished)


async def test_spoken_turns_are_transcribed_and_kept_as_text() -> None:
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(AGENT, endpoint) as session:
            events = await _say(session)
            history = session.history
    (heard,) = [e for e in events if isinstance(e, UserTranscript)]
    assert heard.text == "what is the weather in Oslo"
    finished = [e for e in events if isinstance(e, ResponseFinished)]
    assert finished[-1].text == "It is sunny in Oslo."
    user = [h for h in history if h.role == "user"]
    assert [(h.text, h.has_audio) for h in user] == [("what is the weather in Oslo", True)]


async def test_a_reconnect_restores_spoken_turns_as_text() -> None:
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        options = SessionOptions(reconnect=FAST)
        async with Session(AGENT, endpoint, options=options) as session:
            await _say(session)
            await sim.close_connections(1011, "server fault")
            (reconnected,) = [
                e for e in await until_event(session, Reconnected) if isinstance(e, Reconnected)
            ]
            events = await _say(session)
    assert not [note for note in reconnected.not_restored if "no transcript" in note]
    replayed = [
        part.get("text")
        for event in sim.connections[1].received
        if event["type"] == "conversation.item.create"
        for part in event["item"].get("content", [])
    ]
    assert "what is the weather in Oslo" in replayed
    assert [e for e in events if isinstance(e, ResponseFinished)][-1].text == "Rain tomorrow."
