"""What an agent is: instructions, tools and voice settings, turned into ``session.update``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from agentkit.guardrails import (
    InputCheck,
    InputGuardrail,
    OutputCheck,
    OutputGuardrail,
    as_input_guardrails,
    as_output_guardrails,
)
from agentkit.handoffs import Handoff, handoff
from agentkit.hosted_mcp import HostedMCP, check_labels
from agentkit.protocol.config import (
    AudioFormat,
    InputTranscription,
    Reasoning,
    ReasoningEffort,
    SessionConfig,
    Truncation,
    TurnDetection,
)
from agentkit.tools import ToolLike, Toolset

__all__ = ["Agent"]

TurnDetectionSetting = TurnDetection | Literal["server_vad", "semantic_vad"] | None


@dataclass(frozen=True)
class Agent:
    """A realtime agent's configuration; immutable, so one agent can serve many sessions.

    Args:
        instructions: the system prompt.
        tools: tools or plain functions (wrapped with ``@tool``) the model may call.
        name: a label for logs, traces and hand-offs.
        modality: ``"audio"`` (speech with a transcript) or ``"text"``.
        voice: the output voice; changeable only until the first audio output.
        turn_detection: ``"server_vad"`` (default), ``"semantic_vad"``, a :class:`TurnDetection`
            for finer settings, or ``None`` for push-to-talk (the app commits audio itself).
        input_audio_format: format of the audio the app sends.
        output_audio_format: format of the audio the model speaks.
        input_transcription: transcribe user audio (on Azure ``model`` is a deployment name).
        tool_choice: ``"auto"``, ``"none"``, ``"required"``, or ``{"type": "function", "name": N}``.
        temperature: preview dialect only (0.6 to 1.2); ignored on GA.
        max_output_tokens: cap per response, ``"inf"`` for none.
        reasoning_effort: how hard a reasoning model (``gpt-realtime-2`` and later) thinks,
            ``"minimal"`` to ``"xhigh"``; ``None`` leaves the model's default. GA only.
        parallel_tool_calls: whether a reasoning model may call several tools at once
            (``None``: the model's default). GA only.
        truncation: what the service does when the conversation outgrows the context:
            ``"auto"``, ``"disabled"`` or a :class:`~agentkit.protocol.config.RetentionRatio`.
            GA only.
        extra_session: raw ``session`` fields sent as they are, for settings agentkit lacks.
        handoffs: agents (or :class:`~agentkit.handoffs.Handoff` specs from ``handoff()`` and
            ``handoff_back()``) the model may transfer the conversation to; each becomes a
            transfer tool (see ``docs/handoffs.md``).
        input_guardrails: checks run on every tool call before approval and the function; a
            trip answers the call with the guardrail's message (see ``docs/guardrails.md``).
        output_guardrails: checks run on the assistant's words as they stream; a trip
            cancels the response and asks for a recovery.
        hosted_mcp: remote MCP servers the service itself calls (see
            :class:`~agentkit.hosted_mcp.HostedMCP`); a ``HostedMCP`` given among ``tools``
            moves here.
    """

    instructions: str = ""
    tools: Toolset | Iterable[ToolLike] = field(default_factory=Toolset)
    name: str = "assistant"
    modality: Literal["audio", "text"] = "audio"
    voice: str | None = None
    turn_detection: TurnDetectionSetting = "server_vad"
    input_audio_format: AudioFormat = "pcm16"
    output_audio_format: AudioFormat = "pcm16"
    input_transcription: InputTranscription | None = None
    tool_choice: str | dict[str, Any] = "auto"
    temperature: float | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    reasoning_effort: ReasoningEffort | None = None
    parallel_tool_calls: bool | None = None
    truncation: Truncation | None = None
    extra_session: dict[str, Any] = field(default_factory=dict)
    handoffs: Sequence[Agent | Handoff] = ()
    input_guardrails: Sequence[InputGuardrail | InputCheck] = ()
    output_guardrails: Sequence[OutputGuardrail | OutputCheck] = ()
    hosted_mcp: Sequence[HostedMCP] = ()

    def __post_init__(self) -> None:
        hosted = list(self.hosted_mcp)
        if not isinstance(self.tools, Toolset):
            tools = _as_iterable(self.tools)
            hosted.extend(t for t in tools if isinstance(t, HostedMCP))
            tools = [t for t in tools if not isinstance(t, HostedMCP)]
            object.__setattr__(self, "tools", Toolset(tools))
        object.__setattr__(self, "hosted_mcp", check_labels(hosted))
        specs = tuple(h if isinstance(h, Handoff) else _as_handoff(h) for h in self.handoffs)
        object.__setattr__(self, "handoffs", specs)
        object.__setattr__(self, "input_guardrails", as_input_guardrails(self.input_guardrails))
        object.__setattr__(self, "output_guardrails", as_output_guardrails(self.output_guardrails))
        if self.handoffs:
            self.__dict__["_toolset"] = self._all_tools()  # a clash of names fails here

    @property
    def toolset(self) -> Toolset:
        """The tools the model sees: ``tools``, then one transfer tool per hand-off."""
        cached = self.__dict__.get("_toolset")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        assert isinstance(self.tools, Toolset)
        return self.tools

    def _all_tools(self) -> Toolset:
        assert isinstance(self.tools, Toolset)
        transfers = [spec.tool for spec in self.handoffs if isinstance(spec, Handoff)]
        return self.tools.with_tools(*transfers)

    @property
    def input_guards(self) -> tuple[InputGuardrail, ...]:
        """``input_guardrails`` as :class:`InputGuardrail` objects (normalised on construction)."""
        return self.input_guardrails  # type: ignore[return-value]

    @property
    def output_guards(self) -> tuple[OutputGuardrail, ...]:
        """``output_guardrails`` as :class:`OutputGuardrail` objects."""
        return self.output_guardrails  # type: ignore[return-value]

    @property
    def checks_output(self) -> bool:
        """Whether this agent, or one it can hand the conversation to, has output guardrails
        (a session then reads the transcript for them). Worked out once per agent."""
        cached = self.__dict__.get("_checks_output")
        if cached is None:
            cached = self._find_output_guardrails()
            self.__dict__["_checks_output"] = cached
        return bool(cached)

    def _find_output_guardrails(self) -> bool:
        seen: set[int] = set()
        waiting: list[Agent] = [self]
        while waiting:
            agent = waiting.pop()
            if id(agent) in seen:
                continue
            seen.add(id(agent))
            if agent.output_guardrails:
                return True
            waiting.extend(h.agent for h in agent.handoffs if isinstance(h, Handoff) and h.agent)
        return False

    def with_changes(self, **changes: Any) -> Agent:
        """A copy with some settings changed (for hand-offs and mid-session updates)."""
        return replace(self, **changes)

    @property
    def turn_detection_config(self) -> TurnDetection | None:
        setting = self.turn_detection
        if isinstance(setting, str):
            return TurnDetection(type=setting)
        return setting

    @property
    def server_interrupts(self) -> bool:
        """Whether the service cancels responses itself when the user starts speaking."""
        detection = self.turn_detection_config
        return detection is not None and detection.interrupt_response is not False

    @property
    def server_responds(self) -> bool:
        """Whether the service answers the user's spoken turns itself (VAD ``create_response``)."""
        detection = self.turn_detection_config
        return detection is not None and detection.create_response is not False

    def session_config(self) -> SessionConfig:
        """The dialect-neutral ``session.update`` payload for this agent (built once: the agent
        is immutable, and thousands of sessions may share it)."""
        cached = self.__dict__.get("_session_config")
        if cached is None:
            cached = self._build_session_config()
            object.__setattr__(self, "_session_config", cached)
        return cached

    def _build_session_config(self) -> SessionConfig:
        settings: dict[str, Any] = {
            "instructions": self.instructions,
            "output_modalities": (self.modality,),
            "input_audio_format": self.input_audio_format,
            "output_audio_format": self.output_audio_format,
            "turn_detection": self.turn_detection_config,
            "tools": (
                *self.toolset.schemas(),
                *(server.schema() for server in self.hosted_mcp),
            ),
            "tool_choice": self.tool_choice,
            "extra": dict(self.extra_session),
        }
        optional: dict[str, Any] = {
            "voice": self.voice,
            "input_audio_transcription": self.input_transcription,
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "parallel_tool_calls": self.parallel_tool_calls,
            "truncation": self.truncation,
        }
        if self.reasoning_effort is not None:
            optional["reasoning"] = Reasoning(effort=self.reasoning_effort)
        settings.update({key: value for key, value in optional.items() if value is not None})
        return SessionConfig(**settings)


def _as_handoff(target: object) -> Handoff:
    if not isinstance(target, Agent):
        kind = type(target).__name__
        raise TypeError(f"handoffs takes agents or handoff(...) specs, not a {kind}")
    return handoff(target)


def _as_iterable(tools: Any) -> list[Any]:
    if callable(tools) or isinstance(tools, HostedMCP):
        return [tools]
    return list(tools)
