"""The simulator's ``input_image`` checks, sans-I/O: exactly the shapes the OpenAI SDK types
describe are taken, and a model without image input answers with an ``error`` event."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from openai.types.realtime.realtime_conversation_item_user_message_param import (
    RealtimeConversationItemUserMessageParam,
)

from agentkit.testing.state import ConnectionState
from tests.image_files import JPEG, png

PNG_URI = "data:image/png;base64," + base64.b64encode(png()).decode()


def _create(state: ConnectionState, *parts: dict[str, Any]) -> list[dict[str, Any]]:
    item: RealtimeConversationItemUserMessageParam = {
        "type": "message",
        "role": "user",
        "content": list(parts),  # type: ignore[arg-type]
    }
    return state.receive({"type": "conversation.item.create", "event_id": "e1", "item": item})


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_image", "image_url": PNG_URI},
        {"type": "input_image", "image_url": PNG_URI, "detail": "low"},
        {"type": "input_image", "image_url": PNG_URI, "detail": "auto"},
        {
            "type": "input_image",
            "image_url": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode(),
            "detail": "high",
        },
    ],
)
@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_the_sdk_shapes_are_taken(part: dict[str, Any], dialect: str) -> None:
    state = ConnectionState(dialect, "gpt-realtime")  # type: ignore[arg-type]
    events = _create(state, {"type": "input_text", "text": "What is this?"}, part)
    assert events[0]["type"] in ("conversation.item.added", "conversation.item.created")
    assert events[0]["item"]["content"][1] == part


@pytest.mark.parametrize(
    ("part", "param", "code"),
    [
        ({"type": "input_image"}, "item.content[0].image_url", "missing_required_parameter"),
        ({"type": "input_image", "image_url": "https://example.com/a.png"},
         "item.content[0].image_url", "invalid_value"),
        ({"type": "input_image", "image_url": "data:image/gif;base64,R0lGODlh"},
         "item.content[0].image_url", "invalid_value"),
        ({"type": "input_image", "image_url": "data:image/png;base64,@@@"},
         "item.content[0].image_url", "invalid_value"),
        ({"type": "input_image", "image_url": PNG_URI, "detail": "max"},
         "item.content[0].detail", "invalid_value"),
    ],
)  # fmt: skip
def test_other_shapes_get_an_error_event(part: dict[str, Any], param: str, code: str) -> None:
    state = ConnectionState("ga", "gpt-realtime")
    (event,) = _create(state, part)
    assert event["type"] == "error"
    assert event["error"]["param"] == param and event["error"]["code"] == code
    assert event["error"]["event_id"] == "e1"
    assert state.conversation.items == []


@pytest.mark.parametrize(
    "model", ["gpt-4o-realtime-preview", "gpt-4o-mini-realtime-preview-2024-12-17"]
)
def test_a_model_without_image_input_refuses_it(model: str) -> None:
    state = ConnectionState("ga", model)
    (event,) = _create(state, {"type": "input_image", "image_url": PNG_URI})
    assert event["error"]["code"] == "invalid_value"
    assert event["error"]["param"] == "item.content[0].type"
    assert f"The model {model!r} does not support image input." in event["error"]["message"]


def test_a_deployment_s_model_is_what_the_simulator_is_told() -> None:
    unknown = ConnectionState("ga", "prod-voice", family="")
    assert unknown.traits.images and unknown.traits.reasoning
    told = ConnectionState("ga", "prod-voice", family="gpt-4o-realtime-preview")
    (event,) = _create(told, {"type": "input_image", "image_url": PNG_URI})
    assert "'prod-voice' does not support image input" in event["error"]["message"]


def test_reasoning_is_for_reasoning_models() -> None:
    update = {"type": "realtime", "reasoning": {"effort": "low"}}
    refused = ConnectionState("ga", "gpt-realtime").receive(
        {"type": "session.update", "event_id": "e2", "session": update}
    )
    assert refused[0]["error"]["code"] == "unsupported_parameter"
    assert refused[0]["error"]["param"] == "session.reasoning"
    taken = ConnectionState("ga", "gpt-realtime-2").receive(
        {"type": "session.update", "session": update}
    )
    assert taken[0]["type"] == "session.updated"
    assert taken[0]["session"]["reasoning"] == {"effort": "low"}
    wrong = {"type": "realtime", "reasoning": {"effort": "max"}}
    (error,) = ConnectionState("ga", "gpt-realtime-2").receive(
        {"type": "session.update", "session": wrong}
    )
    assert error["error"]["param"] == "session.reasoning.effort"
