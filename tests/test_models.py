"""Model profiles: the table against the OpenAI SDK, the checks, and over sockets that a wrong
option fails before the socket opens while the simulator refuses what slips through."""

from __future__ import annotations

import typing

import pytest
from openai.types.realtime.audio_transcription import AudioTranscription
from openai.types.realtime.realtime_audio_config_output import Voice
from openai.types.realtime.realtime_reasoning_effort import RealtimeReasoningEffort
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest

from agentkit import (
    Agent,
    ConfigurationError,
    Endpoint,
    InputTranscription,
    ResponseOptions,
    ServerError,
    Session,
    SessionConfig,
    UnsupportedOptionError,
)
from agentkit.models import (
    BUILTIN_VOICES,
    PROFILES,
    REASONING_EFFORTS,
    TRANSCRIPTION_MODELS,
    check_images,
    check_session_config,
    profile_for,
)
from agentkit.testing import Scenario, Simulator
from tests.support import TIMEOUT


def _literals(annotation: object) -> set[str]:
    found: set[str] = set()
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            found |= set(typing.get_args(arg))
    return found


# -- the table against the SDK -------------------------------------------------------------


def test_every_family_is_a_model_the_sdk_names() -> None:
    models = _literals(RealtimeSessionCreateRequest.model_fields["model"].annotation)
    assert set(PROFILES) <= models
    for name in models:
        profile = profile_for(name)
        if name.startswith(("gpt-realtime", "gpt-4o")):  # gpt-audio-* is not a realtime family
            assert profile is not None, name
            assert name.startswith(profile.family)


def test_voices_efforts_and_transcription_models_are_the_sdks() -> None:
    assert set(BUILTIN_VOICES) == _literals(Voice)
    assert REASONING_EFFORTS == typing.get_args(RealtimeReasoningEffort)
    annotation = AudioTranscription.model_fields["model"].annotation
    assert set(TRANSCRIPTION_MODELS) == _literals(annotation)


def test_the_issue_s_facts() -> None:
    realtime_2 = PROFILES["gpt-realtime-2"]
    assert realtime_2.reasoning and realtime_2.parallel_tool_calls and realtime_2.several_messages
    assert realtime_2.images is True
    assert realtime_2.context_tokens is not None and realtime_2.context_tokens > 32_000
    for legacy in ("gpt-4o-realtime-preview", "gpt-4o-mini-realtime-preview"):
        assert PROFILES[legacy].images is False
    for first in ("gpt-realtime", "gpt-realtime-mini"):
        assert PROFILES[first].images is True and PROFILES[first].reasoning is False
        assert PROFILES[first].context_tokens == 32_000


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-realtime", "gpt-realtime"),
        ("gpt-realtime-2025-08-28", "gpt-realtime"),
        ("GPT-Realtime-Mini-2025-10-06", "gpt-realtime-mini"),
        ("gpt-4o-realtime-preview-2024-12-17", "gpt-4o-realtime-preview"),
        ("gpt-realtime-2.1-mini", "gpt-realtime-2.1-mini"),
    ],
)
def test_a_snapshot_has_its_family_s_profile(model: str, family: str) -> None:
    profile = profile_for(model)
    assert profile is not None and profile.family == family


@pytest.mark.parametrize("model", [None, "", "simulated", "my-prod-deployment", "gpt-audio-1.5"])
def test_an_unknown_model_has_no_profile_and_nothing_is_checked(model: str | None) -> None:
    assert profile_for(model) is None
    check_session_config(SessionConfig(voice="nobody", extra={"reasoning": {}}), None)
    check_images(None)


# -- the checks ----------------------------------------------------------------------------


def _refusal(config: SessionConfig, model: str) -> UnsupportedOptionError:
    with pytest.raises(UnsupportedOptionError) as raised:
        check_session_config(config, profile_for(model))
    assert isinstance(raised.value, ConfigurationError)
    assert raised.value.model == profile_for(model).family  # type: ignore[union-attr]
    return raised.value


def test_a_voice_the_model_lacks() -> None:
    error = _refusal(SessionConfig(voice="marin"), "gpt-4o-realtime-preview")
    assert error.option == "voice='marin'"
    assert str(error).startswith("model 'gpt-4o-realtime-preview' does not take voice='marin'")
    assert "alloy" in str(error) and "cedar" not in str(error)
    check_session_config(SessionConfig(voice="marin"), profile_for("gpt-realtime"))


def test_reasoning_on_a_model_without_it() -> None:
    error = _refusal(SessionConfig(extra={"reasoning": {"effort": "high"}}), "gpt-realtime")
    assert error.option == "reasoning_effort='high'"
    assert "gpt-realtime-2" in str(error)
    _refusal(SessionConfig(extra={"parallel_tool_calls": True}), "gpt-realtime-mini")
    reasoning = SessionConfig(extra={"reasoning": {"effort": "high"}, "parallel_tool_calls": True})
    check_session_config(reasoning, profile_for("gpt-realtime-2"))


def test_an_effort_the_model_does_not_know() -> None:
    error = _refusal(SessionConfig(extra={"reasoning": {"effort": "max"}}), "gpt-realtime-2")
    assert error.option == "reasoning_effort='max'" and "xhigh" in str(error)


@pytest.mark.skipif(
    "reasoning" not in SessionConfig.model_fields, reason="SessionConfig has no reasoning yet"
)
def test_the_typed_reasoning_field_is_read_too() -> None:
    config = SessionConfig.model_validate({"reasoning": {"effort": "low"}})
    _refusal(config, "gpt-realtime")
    check_session_config(config, profile_for("gpt-realtime-2"))


def test_output_tokens_and_transcription_models() -> None:
    _refusal(SessionConfig(max_output_tokens=5000), "gpt-realtime")
    check_session_config(SessionConfig(max_output_tokens="inf"), profile_for("gpt-realtime"))
    wrong = SessionConfig(input_audio_transcription=InputTranscription(model="whisper-2"))
    assert "whisper-1" in str(_refusal(wrong, "gpt-realtime"))


def test_what_is_not_documented_is_not_refused() -> None:
    check_images(profile_for("gpt-realtime-1.5"))  # image input: not documented either way
    reasoning = SessionConfig(extra={"reasoning": {"effort": "low"}, "parallel_tool_calls": True})
    check_session_config(reasoning, profile_for("gpt-realtime-2.1"))
    check_session_config(SessionConfig(max_output_tokens=30_000), profile_for("gpt-realtime-2"))


def test_images_on_a_model_without_image_input() -> None:
    refusal = "'gpt-4o-mini-realtime-preview' does not take images"
    with pytest.raises(UnsupportedOptionError, match=refusal):
        check_images(profile_for("gpt-4o-mini-realtime-preview-2024-12-17"))
    check_images(profile_for("gpt-realtime-mini"))


# -- where the model family comes from -------------------------------------------------------


def test_an_azure_deployment_name_is_never_taken_for_a_model() -> None:
    unstated = Endpoint.azure("https://res.openai.azure.com", "gpt-4o-realtime-preview", "k")
    assert unstated.model is None and unstated.model_profile is None
    stated = Endpoint.azure("https://res.openai.azure.com", "prod-voice", "k", model="gpt-realtime")
    assert stated.model == "gpt-realtime" and "model='gpt-realtime'" in repr(stated)
    assert stated.model_profile is not None and stated.model_profile.images is True
    assert stated.model_profile.transcription_models is None  # an Azure deployment name there


def test_the_environment_states_the_azure_model() -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
        "AZURE_OPENAI_DEPLOYMENT": "prod-voice",
        "AZURE_OPENAI_API_KEY": "k",
        "AZURE_OPENAI_MODEL": "gpt-realtime-2",
    }
    assert Endpoint.from_env(env).model == "gpt-realtime-2"
    assert Endpoint.from_env({**env, "AZURE_OPENAI_MODEL": ""}).model is None
    custom = {"AGENTKIT_REALTIME_URL": "ws://127.0.0.1:1/openai/v1/realtime?model=d"}
    assert Endpoint.from_env(custom).model is None
    assert Endpoint.from_env({**custom, "AZURE_OPENAI_MODEL": "gpt-realtime"}).model == (
        "gpt-realtime"
    )


def test_an_openai_url_names_its_model() -> None:
    openai = Endpoint.openai("gpt-realtime-2", "sk-test")
    assert openai.model == "gpt-realtime-2"
    assert openai.model_profile is not None and openai.model_profile.transcription_models
    assert Endpoint.custom("ws://127.0.0.1:1/v1/realtime?model=gpt-realtime").model == (
        "gpt-realtime"
    )
    assert Endpoint.custom("ws://127.0.0.1:1/openai/v1/realtime?model=gpt-realtime").model is None
    assert Endpoint.custom("ws://127.0.0.1:1/x", model="gpt-realtime-2").model == "gpt-realtime-2"


# -- over sockets ----------------------------------------------------------------------------


async def test_a_wrong_option_fails_before_the_socket_opens() -> None:
    async with Simulator() as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-4o-realtime-preview"), sim.api_key)
        session = Session(Agent(voice="cedar"), endpoint)
        with pytest.raises(UnsupportedOptionError, match="voice='cedar'"):
            await session.start()
        assert sim.connections == []


async def test_reasoning_for_a_model_without_it_fails_here_or_at_the_simulator() -> None:
    agent = Agent(modality="text", extra_session={"reasoning": {"effort": "low"}})
    async with Simulator(deployments={"prod-voice": "gpt-realtime"}) as sim:
        stated = Endpoint.azure(sim.url.replace("ws", "http"), "prod-voice", sim.api_key,
                                model="gpt-realtime")  # fmt: skip
        with pytest.raises(UnsupportedOptionError, match="reasoning_effort='low'"):
            await Session(agent, stated).start()
        assert sim.connections == []
        unstated = Endpoint.azure(sim.url.replace("ws", "http"), "prod-voice", sim.api_key)
        with pytest.raises(ServerError) as raised:
            await Session(agent, unstated).start()
        assert raised.value.code == "unsupported_parameter"
        assert raised.value.param == "session.reasoning"
        assert len(sim.connections) == 1


async def test_a_reasoning_model_takes_reasoning() -> None:
    agent = Agent(modality="text", extra_session={"reasoning": {"effort": "xhigh"}})
    async with Simulator(Scenario().on_any().say("Thought about it.")) as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-realtime-2"), sim.api_key)
        async with Session(agent, endpoint) as session:
            answer = await session.ask("Think hard.", timeout=TIMEOUT)
        assert answer.text == "Thought about it."
        assert session.server_session["reasoning"] == {"effort": "xhigh"}


async def test_a_hand_off_to_a_wrong_agent_sends_nothing() -> None:
    async with Simulator() as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-realtime"), sim.api_key)
        async with Session(Agent(modality="text"), endpoint) as session:
            updates = len([e for e in sim.received if e["type"] == "session.update"])
            with pytest.raises(UnsupportedOptionError, match="voice='nova'"):
                await session.update_agent(Agent(voice="nova"))
            assert session.agent.voice is None
        assert len([e for e in sim.received if e["type"] == "session.update"]) == updates


async def test_one_response_s_overrides_are_checked_too() -> None:
    async with Simulator(Scenario().on_any().say("Fine.")) as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-4o-realtime-preview"), sim.api_key)
        async with Session(Agent(modality="text", turn_detection=None), endpoint) as session:
            await session.send_text("Hello", respond=False)
            with pytest.raises(UnsupportedOptionError, match="voice='cedar'"):
                await session.create_response(ResponseOptions(voice="cedar"))
            with pytest.raises(UnsupportedOptionError, match="max_output_tokens=9000"):
                await session.create_response(ResponseOptions(max_output_tokens=9000))
            assert not [e for e in sim.received if e["type"] == "response.create"]
            await session.create_response(ResponseOptions(voice="coral"))
            await sim.wait_for("response.create", timeout=TIMEOUT)
