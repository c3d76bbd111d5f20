"""The official ``openai`` SDK as a test oracle for the wire format (a test-only dependency).

The SDK's models accept unknown keys silently (``extra="allow"``), so validating alone would let a
misspelt or wrong-dialect field through. :func:`assert_conforms` also checks that no model in the
validated tree kept an unknown key and that dumping the validated model gives back exactly what
agentkit sent.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import pydantic
from openai.types import realtime as ga
from openai.types.beta import realtime as beta


def _by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    """The members of an SDK event union by their ``type`` literal, for readable failures."""
    (members, *_) = get_args(union)
    return {
        get_args(member.model_fields["type"].annotation)[0]: member for member in get_args(members)
    }


GA_CLIENT_EVENT = _by_type(ga.RealtimeClientEvent)
GA_SERVER_EVENT = _by_type(ga.RealtimeServerEvent)
PREVIEW_CLIENT_EVENT = _by_type(beta.RealtimeClientEvent)


def unknown_keys(value: Any, path: str = "$") -> list[str]:
    """Every key some SDK model in ``value`` accepted without knowing it, as a JSON path."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        found += [f"{path}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for index, element in enumerate(value):
            found += unknown_keys(element, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, element in value.items():
            found += unknown_keys(element, f"{path}.{key}")
    return found


def assert_conforms(frame: str, union: dict[str, type[pydantic.BaseModel]]) -> pydantic.BaseModel:
    """Validate ``frame`` strictly against the SDK union; nothing unknown, nothing dropped."""
    sent = json.loads(frame)
    model = union[sent["type"]].model_validate_json(frame, strict=True)
    assert unknown_keys(model) == [], f"keys the SDK does not know: {unknown_keys(model)}"
    assert model.model_dump(mode="json", exclude_unset=True) == sent
    assert model.type == sent["type"]  # type: ignore[attr-defined]
    return model


def sdk_model(model: type[pydantic.BaseModel], **fields: Any) -> pydantic.BaseModel:
    """An SDK model instance from JSON-shaped fields, checked strictly and for unknown keys."""
    instance = model.model_validate_json(json.dumps(fields), strict=True)
    assert unknown_keys(instance) == [], unknown_keys(instance)
    return instance
