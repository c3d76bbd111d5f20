"""Small helpers for the simulator's own wire tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.support import TIMEOUT


async def recv_event(ws: ClientConnection) -> dict[str, Any]:
    """The next server event, decoded."""
    event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return event


async def recv_until(ws: ClientConnection, event_type: str) -> list[dict[str, Any]]:
    """Server events up to and including the first of ``event_type``."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != event_type:
        events.append(await recv_event(ws))
    return events


async def send(ws: ClientConnection, event_type: str, **fields: Any) -> None:
    """Send one client event."""
    await ws.send(json.dumps({"type": event_type, **fields}))


def user_text(text: str) -> dict[str, Any]:
    """A user message item."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME_TOOL = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}
