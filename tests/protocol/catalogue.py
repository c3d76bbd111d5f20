"""Every kind of client event agentkit can emit, with rich values, for the conformance tests."""

from __future__ import annotations

from typing import Any

from agentkit.protocol.client_events import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    assistant_message,
    audio_append,
    function_call,
    function_call_output,
    system_message,
    user_audio,
    user_message,
)
from agentkit.protocol.config import (
    InputTranscription,
    NoiseReduction,
    ResponseOptions,
    SessionConfig,
    TurnDetection,
)

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
CLOCK_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "now",
    "description": "The time.",
    "parameters": {"type": "object", "properties": {}},
}

SESSION_CONFIGS: dict[str, SessionConfig] = {
    "empty": SessionConfig(),
    "server_vad_pcm16_everything": SessionConfig(
        instructions="You are a travel helper.",
        output_modalities=("audio",),
        voice="alloy",
        input_audio_format="pcm16",
        output_audio_format="pcm16",
        turn_detection=TurnDetection(
            type="server_vad",
            threshold=0.6,
            prefix_padding_ms=300,
            silence_duration_ms=500,
            create_response=True,
            interrupt_response=True,
            idle_timeout_ms=6000,
        ),
        input_audio_transcription=InputTranscription(
            model="gpt-4o-transcribe", language="en", prompt="Place names in Norway."
        ),
        input_audio_noise_reduction=NoiseReduction(type="near_field"),
        tools=(WEATHER_TOOL, CLOCK_TOOL),
        tool_choice="auto",
        temperature=0.8,
        max_output_tokens=4096,
        speed=1.1,
    ),
    "semantic_vad_g711_forced_tool": SessionConfig(
        instructions="",
        output_modalities=("text",),
        voice="coral",
        input_audio_format="g711_ulaw",
        output_audio_format="g711_alaw",
        turn_detection=TurnDetection(
            type="semantic_vad", eagerness="high", create_response=False, interrupt_response=False
        ),
        input_audio_transcription=InputTranscription(model="whisper-1"),
        input_audio_noise_reduction=NoiseReduction(type="far_field"),
        tools=(WEATHER_TOOL,),
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens="inf",
        speed=0.25,
    ),
    "everything_off": SessionConfig(
        output_modalities=("text", "audio"),
        turn_detection=None,
        input_audio_transcription=None,
        input_audio_noise_reduction=None,
        tools=(),
        tool_choice="required",
        max_output_tokens=1,
    ),
    "tool_choice_none": SessionConfig(tool_choice="none", speed=1.5),
    "raw_extra": SessionConfig(instructions="x", extra={"tracing": "auto"}),
}

REPLAY_ITEMS: tuple[dict[str, Any], ...] = (
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Oslo?"}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "4 C."}]},
    {"type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_9", "output": '{"temp_c": 4}'},
)

RESPONSE_OPTIONS: dict[str, ResponseOptions | None] = {
    "none": None,
    "empty": ResponseOptions(),
    "every_field": ResponseOptions(
        instructions="Summarise the call.",
        tools=(WEATHER_TOOL,),
        tool_choice="none",
        output_modalities=("text",),
        voice="verse",
        output_audio_format="g711_ulaw",
        max_output_tokens=256,
        metadata={"purpose": "summary", "request": "r-1"},
        conversation="none",
        input=REPLAY_ITEMS,
        temperature=0.7,
    ),
    "audio_forced_tool_inf": ResponseOptions(
        output_modalities=("audio",),
        voice="marin",
        output_audio_format="pcm16",
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens="inf",
        conversation="auto",
        input=(),
    ),
}

PCM_20MS = bytes(range(256)) * 3 + bytes(192)


def client_events() -> dict[str, ClientEvent]:
    """One of each event agentkit can emit, keyed by a readable test id."""
    events: dict[str, ClientEvent] = {
        f"session.update[{name}]": SessionUpdate(session=config)
        for name, config in SESSION_CONFIGS.items()
    }
    events |= {
        f"response.create[{name}]": ResponseCreate(response=options)
        for name, options in RESPONSE_OPTIONS.items()
    }
    events |= {
        "item.create[user]": user_message("Weather in Oslo?"),
        "item.create[user,id,root]": ConversationItemCreate(
            item=user_message("first", item_id="item_u0").item, previous_item_id="root"
        ),
        "item.create[user_audio]": user_audio(PCM_20MS, transcript="hello", item_id="item_a"),
        "item.create[user_audio,no_transcript]": user_audio(PCM_20MS),
        "item.create[system]": system_message("The user is in Norway.", item_id="item_s"),
        "item.create[assistant]": assistant_message("It is 4 degrees.", item_id="item_b"),
        "item.create[function_call]": function_call(
            "call_9", "get_weather", '{"city":"Oslo"}', item_id="item_f"
        ),
        "item.create[function_call_output]": function_call_output("call_9", '{"temp_c":4}'),
        "item.create[function_call_output,empty,after]": ConversationItemCreate(
            item=function_call_output("call_9", "").item, previous_item_id="item_f"
        ),
        "response.cancel": ResponseCancel(),
        "response.cancel[id]": ResponseCancel(response_id="resp_1"),
        "item.truncate": ConversationItemTruncate(item_id="item_b", audio_end_ms=1500),
        "item.truncate[zero]": ConversationItemTruncate(
            item_id="item_b", content_index=0, audio_end_ms=0
        ),
        "item.delete": ConversationItemDelete(item_id="item_f"),
        "item.retrieve": ConversationItemRetrieve(item_id="item_u0"),
        "audio.append": audio_append(PCM_20MS),
        "audio.append[raw]": InputAudioBufferAppend(audio="AAAA"),
        "audio.commit": InputAudioBufferCommit(),
        "audio.clear": InputAudioBufferClear(),
    }
    return events
