"""The simulator's own names for the two wire dialects (it does not import the client's)."""

from __future__ import annotations

from typing import Literal

__all__ = ["GA", "PREVIEW", "Dialect", "event_name"]

Dialect = Literal["ga", "preview"]
GA: Dialect = "ga"
PREVIEW: Dialect = "preview"

_PREVIEW_NAMES = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
}


def event_name(ga_name: str, dialect: Dialect) -> str:
    """The wire name of a server event in ``dialect``, given its GA name."""
    return _PREVIEW_NAMES.get(ga_name, ga_name) if dialect == PREVIEW else ga_name
