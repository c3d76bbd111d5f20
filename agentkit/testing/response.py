"""One simulated response, streamed event by event, and cancellable at any point (sans-I/O).

:class:`ResponseRun` turns planned output (text, tool calls) into the service's event sequence::

    response.created, rate_limits.updated,
    per item: response.output_item.added, conversation.item.added (GA) / .created (preview),
              content part + text or audio/transcript deltas, or function-call argument deltas,
              ... .done events, response.output_item.done, conversation.item.done (GA),
    response.done (with usage)

Usage is counted the way the service reports it (the SDK's ``RealtimeResponseUsage``): text at
about four characters a token; audio as OpenAI counts it, a token per 100 ms of the user's and
per 50 ms of the assistant's; an image at a fixed :data:`IMAGE_TOKENS`. See
:func:`count_input` for the input and its cached part.

:meth:`ResponseRun.next_event` hands out one event at a time so a connection can interleave client
events (``response.cancel``, barge-in); :meth:`ResponseRun.cancel` closes what is open with the
``*.done`` events of partial items, then ``response.done`` with ``status: cancelled``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit.testing import audio
from agentkit.testing.conversation import Conversation, public_item
from agentkit.testing.dialect import GA, Dialect, event_name
from agentkit.testing.ids import IdFactory
from agentkit.testing.scenario import Planned, PlannedCall, PlannedText

if TYPE_CHECKING:
    from agentkit.testing.hosted_mcp import HostedService

__all__ = ["InputTokens", "ResponseRun", "ResponseSpec", "count_input"]

Event = dict[str, Any]
ARGUMENT_PIECES = 3
WORDS_PER_DELTA = 3
USER_AUDIO_MS_PER_TOKEN = 100
ASSISTANT_AUDIO_MS_PER_TOKEN = 50
IMAGE_TOKENS = 85
"""Input tokens per image (what OpenAI counts for a low-detail image)."""


@dataclass(frozen=True)
class InputTokens:
    """What a response reads, by kind, and the cached part of each."""

    text: int = 0
    audio: int = 0
    image: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    cached_image: int = 0

    @property
    def total(self) -> int:
        return self.text + self.audio + self.image

    @property
    def cached(self) -> int:
        return self.cached_text + self.cached_audio + self.cached_image


def count_input(
    items: Sequence[Mapping[str, Any]], instructions: str, audio_ms: Mapping[str, int]
) -> InputTokens:
    """The input of a response over ``items`` (its context), as the service would count it.

    The cached part is what an earlier response of the conversation already read: the
    instructions and every item up to the last one a response produced (an assistant message
    or a function call). The real service caches only from about a thousand tokens on; the
    simulator caches any prefix, so that short test conversations show it too.
    """
    counts = [_item_tokens(item, audio_ms) for item in items]
    produced = [i for i, item in enumerate(items) if _is_output(item)]
    text, audio, image = _summed(counts, len(instructions))
    if not produced:
        return InputTokens(text, audio, image)
    cached_text, cached_audio, cached_image = _summed(counts[: produced[-1] + 1], len(instructions))
    return InputTokens(
        text, audio, image, min(cached_text, text), min(cached_audio, audio), cached_image
    )


def _item_tokens(item: Mapping[str, Any], audio_ms: Mapping[str, int]) -> tuple[int, int, int]:
    """Characters of text (the item as JSON, without audio or image data), audio tokens and
    image tokens of one item."""
    shown = public_item(item)
    audio_tokens = _audio_tokens(audio_ms.get(str(item.get("id")), 0), ASSISTANT_AUDIO_MS_PER_TOKEN)
    images = 0
    for part, stored in zip(shown.get("content") or [], item.get("content") or [], strict=False):
        if part.get("type") == "input_audio" and isinstance(stored.get("audio"), str):
            pcm_bytes = len(stored["audio"]) * 3 // 4
            audio_tokens += _audio_tokens(pcm_bytes // audio.BYTES_PER_MS, USER_AUDIO_MS_PER_TOKEN)
        elif part.get("type") == "input_image":
            part.pop("image_url", None)
            images += 1
    return len(json.dumps(shown)) + 2, audio_tokens, images * IMAGE_TOKENS


def _summed(counts: list[tuple[int, int, int]], instruction_chars: int) -> tuple[int, int, int]:
    chars = instruction_chars + sum(count[0] for count in counts)
    return (
        max(1, chars // 4),
        sum(count[1] for count in counts),
        sum(count[2] for count in counts),
    )


def _is_output(item: Mapping[str, Any]) -> bool:
    kind = item.get("type")
    return kind == "function_call" or (kind == "message" and item.get("role") == "assistant")


def _audio_tokens(ms: int, ms_per_token: int) -> int:
    return math.ceil(ms / ms_per_token) if ms > 0 else 0


@dataclass
class ResponseSpec:
    """How a response was asked for (session defaults merged with ``response.create`` overrides)."""

    dialect: Dialect
    modality: str = "audio"
    conversation: Conversation | None = None
    metadata: Mapping[str, Any] | None = None
    max_output_tokens: int | str = "inf"
    input: InputTokens = InputTokens()
    audio_chunk_ms: int = 100

    @property
    def input_tokens(self) -> int:
        return self.input.total


@dataclass
class _Open:
    """The output item currently streaming, so a cancel can close it properly."""

    index: int
    item: Event
    text: str = ""
    part_open: bool = False
    audio_bytes: int = 0


@dataclass
class _Usage:
    text_tokens: int = 0
    audio_bytes: int = 0

    @property
    def audio_tokens(self) -> int:
        return _audio_tokens(self.audio_bytes // audio.BYTES_PER_MS, ASSISTANT_AUDIO_MS_PER_TOKEN)


class ResponseRun:
    """The events of one response; ``next_event()`` until ``None``, or ``cancel()``."""

    def __init__(
        self,
        response_id: str,
        spec: ResponseSpec,
        planned: list[Planned] | Callable[[], list[Planned]],
        ids: IdFactory,
        *,
        hosted: HostedService | None = None,
        after_hosted: Callable[[PlannedCall, str | None, Any], list[Planned]] | None = None,
    ):
        """``planned`` may be a callable: the plan is then made once the hosted MCP servers'
        tools are listed (a response asked for meanwhile waits for them). ``after_hosted``
        plans what follows a hosted call's outcome, in the same response."""
        self.id = response_id
        self.spec = spec
        self.planned: list[Planned] = [] if callable(planned) else planned
        self._plan_later = planned if callable(planned) else None
        self._hosted = hosted
        self._after_hosted = after_hosted
        self.output: list[Event] = []
        self.status = "in_progress"
        self.finished = False
        self._ids = ids
        self._open: _Open | None = None
        self._usage = _Usage()
        self._events: Generator[Event | None, None, None] = self._all_events()

    @property
    def in_conversation(self) -> bool:
        """False for out-of-band responses (``conversation: "none"``)."""
        return self.spec.conversation is not None

    def next_event(self) -> Event | None:
        """The next event to send; ``None`` once ``response.done`` has been handed out, or
        while the service waits on a hosted MCP server (``finished`` tells them apart)."""
        if self.finished:
            return None
        return next(self._events, None)

    def cancel(self, reason: str) -> list[Event]:
        """End now: close the partial item, then ``response.done`` (``cancelled``, ``reason``)."""
        self._events.close()
        events: list[Event] = []
        if self._open is not None:
            events.extend(self._close_open("incomplete"))
        self.status = "cancelled"
        events.append(self._done({"type": "cancelled", "reason": reason}))
        return events

    # -- the sequence ---------------------------------------------------------------------

    def _all_events(self) -> Generator[Event | None, None, None]:
        yield {"type": "response.created", "response": self.snapshot()}
        yield _rate_limits(self.spec.input_tokens)
        if self._plan_later is not None:
            while self._hosted is not None and self._hosted.listing:
                yield None  # the model answers once it knows the servers' tools
            self.planned = self._plan_later()
        index = 0
        while index < len(self.planned):  # a hosted call's outcome may add to the plan
            planned = self.planned[index]
            index += 1
            if not isinstance(planned, PlannedCall):
                yield from self._message_events(planned)
            elif planned.server_label is None:
                yield from self._call_events(planned)
            elif planned.needs_approval:
                yield from self._approval_request_events(planned)
            else:
                self.planned.extend((yield from self._hosted_call_events(planned)))
        self.status = "completed"
        yield self._done(None)

    def _approval_request_events(self, call: PlannedCall) -> Iterator[Event]:
        """The service asks the client before it calls a hosted tool; the call waits for the
        answer (an ``mcp_approval_response`` item and a new ``response.create``)."""
        item = {
            "id": call.call_id, "object": "realtime.item", "type": "mcp_approval_request",
            "server_label": call.server_label, "name": call.name, "arguments": call.arguments,
        }  # fmt: skip
        yield from self._start_item(item)
        yield from self._close_open("completed")

    def _hosted_call_events(
        self, call: PlannedCall
    ) -> Generator[Event | None, None, list[Planned]]:
        """The service calls a hosted MCP tool: the ``mcp_call`` item and its events, waiting
        (``None``) while the server works; returns what the model says after the outcome."""
        item: Event = {
            "id": call.call_id, "object": "realtime.item", "type": "mcp_call",
            "server_label": call.server_label, "name": call.name, "arguments": "",
        }  # fmt: skip
        if call.approval_request_id:
            item["approval_request_id"] = call.approval_request_id
        yield from self._start_item(item)
        assert self._open is not None
        opened = self._open
        for piece in _pieces(call.arguments, ARGUMENT_PIECES):
            opened.text += piece
            item["arguments"] = opened.text
            self._usage.text_tokens += _tokens(piece)
            yield self._with_ids(
                {"type": "response.mcp_call_arguments.delta", "item_id": item["id"], "delta": piece}
            )
        done = {"type": "response.mcp_call_arguments.done", "item_id": item["id"]}
        yield self._with_ids({**done, "arguments": call.arguments})
        item["arguments"] = call.arguments
        yield self._mcp_status("in_progress", item["id"], opened.index)
        assert self._hosted is not None and call.server_label is not None
        outcome = self._hosted.call(call.server_label, call.name, call.arguments)
        try:
            while not outcome.done:
                yield None
        finally:
            outcome.cancelled = not outcome.done  # a cancelled response drops the answer
        if outcome.error is not None:
            item["error"] = outcome.error
        else:
            item["output"] = outcome.output or ""
        failed = outcome.error is not None
        yield self._mcp_status("failed" if failed else "completed", item["id"], opened.index)
        yield from self._close_open("failed" if failed else "completed")
        if self._after_hosted is None:
            return []
        return self._after_hosted(call, outcome.output, outcome.error)

    def _mcp_status(self, status: str, item_id: str, index: int) -> Event:
        return {"type": f"response.mcp_call.{status}", "item_id": item_id, "output_index": index}

    def _start_item(self, item: Event) -> Iterator[Event]:
        self._open = _Open(len(self.output), item)
        self.output.append(item)
        yield self._with_ids({"type": "response.output_item.added", "item": public_item(item)})
        conversation = self.spec.conversation
        if conversation is not None:
            previous = conversation.insert(item)
            name = (
                "conversation.item.added"
                if self.spec.dialect == GA
                else "conversation.item.created"
            )
            yield {"type": name, "previous_item_id": previous, "item": public_item(item)}

    def _call_events(self, call: PlannedCall) -> Iterator[Event]:
        item = {
            "id": self._ids.new("item"), "object": "realtime.item", "type": "function_call",
            "status": "in_progress", "name": call.name, "call_id": call.call_id, "arguments": "",
        }  # fmt: skip
        yield from self._start_item(item)
        assert self._open is not None
        for piece in _pieces(call.arguments, ARGUMENT_PIECES):
            self._open.text += piece
            item["arguments"] = self._open.text
            self._usage.text_tokens += _tokens(piece)
            yield self._with_ids(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "call_id": call.call_id,
                    "delta": piece,
                }  # fmt: skip
            )
        yield from self._close_open("completed")

    def _message_events(self, planned: PlannedText) -> Iterator[Event]:
        item = {
            "id": self._ids.new("item"), "object": "realtime.item", "type": "message",
            "role": "assistant", "status": "in_progress", "content": [],
        }  # fmt: skip
        yield from self._start_item(item)
        assert self._open is not None
        self._open.part_open = True
        yield self._part_event("response.content_part.added", "")
        if self.spec.modality == "audio":
            yield from self._audio_deltas(planned.text)
        else:
            yield from self._text_deltas(planned.text)
        yield from self._close_open("completed")

    def _text_deltas(self, text: str) -> Iterator[Event]:
        assert self._open is not None
        for piece in _words(text):
            self._open.text += piece
            self._usage.text_tokens += _tokens(piece)
            yield self._content_event("response.output_text.delta", delta=piece)

    def _audio_deltas(self, text: str) -> Iterator[Event]:
        assert self._open is not None
        words = _words(text)
        chunks = list(audio.chunk(audio.synthesize(text), self.spec.audio_chunk_ms))
        for index in range(max(len(words), len(chunks))):
            if index < len(words):
                self._open.text += words[index]
                self._usage.text_tokens += _tokens(words[index])
                yield self._content_event(
                    "response.output_audio_transcript.delta", delta=words[index]
                )
            if index < len(chunks):
                self._open.audio_bytes += len(chunks[index])
                if self.spec.conversation is not None:
                    self.spec.conversation.audio_ms[self._open.item["id"]] = audio.duration_ms(
                        self._open.audio_bytes
                    )
                self._usage.audio_bytes += len(chunks[index])
                delta = audio.to_base64(chunks[index])
                yield self._content_event("response.output_audio.delta", delta=delta)

    def _close_open(self, status: str) -> Iterator[Event]:
        opened, self._open = self._open, None
        assert opened is not None
        item = opened.item
        if item["type"] == "function_call":
            yield self._with_ids(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item["id"],
                    "call_id": item["call_id"],
                    "name": item["name"],
                    "arguments": opened.text,
                },  # fmt: skip
                index=opened.index,
            )
        elif opened.part_open:
            yield from self._close_part(opened)
        item["status"] = status
        yield self._with_ids(
            {"type": "response.output_item.done", "item": public_item(item)}, index=opened.index
        )
        if self.spec.conversation is not None and self.spec.dialect == GA:
            yield {"type": "conversation.item.done", "item": public_item(item)}

    def _close_part(self, opened: _Open) -> Iterator[Event]:
        item, text = opened.item, opened.text
        if self.spec.modality == "audio":
            yield self._content_event("response.output_audio.done", opened)
            yield self._content_event(
                "response.output_audio_transcript.done", opened, transcript=text
            )
            kind = "output_audio" if self.spec.dialect == GA else "audio"
            item["content"] = [{"type": kind, "transcript": text}]
        else:
            yield self._content_event("response.output_text.done", opened, text=text)
            kind = "output_text" if self.spec.dialect == GA else "text"
            item["content"] = [{"type": kind, "text": text}]
        opened.part_open = False
        yield self._part_event("response.content_part.done", text, opened)

    def _done(self, status_details: Event | None) -> Event:
        self.finished = True
        response = self.snapshot()
        response["status_details"] = status_details
        response["usage"] = self._usage_dict()
        return {"type": "response.done", "response": response}

    # -- event shapes ---------------------------------------------------------------------

    def snapshot(self) -> Event:
        """The ``response`` object as ``response.created`` / ``response.done`` show it."""
        response: Event = {
            "object": "realtime.response", "id": self.id, "status": self.status,
            "status_details": None, "output": [public_item(item) for item in self.output],
            "conversation_id": self.spec.conversation.id if self.spec.conversation else None,
            "metadata": dict(self.spec.metadata) if self.spec.metadata else None,
            "max_output_tokens": self.spec.max_output_tokens, "usage": None,
        }  # fmt: skip
        key = "output_modalities" if self.spec.dialect == GA else "modalities"
        if self.spec.dialect == GA:
            response[key] = [self.spec.modality]
        else:
            response[key] = ["text", "audio"] if self.spec.modality == "audio" else ["text"]
        return response

    def _with_ids(self, event: Event, index: int | None = None) -> Event:
        assert index is not None or self._open is not None
        output_index = index if index is not None else self._open.index  # type: ignore[union-attr]
        event_type = event.pop("type")
        return {"type": event_type, "response_id": self.id, "output_index": output_index, **event}

    def _content_event(self, ga_name: str, opened: _Open | None = None, **fields: Any) -> Event:
        opened = opened or self._open
        assert opened is not None
        return {
            "type": event_name(ga_name, self.spec.dialect), "response_id": self.id,
            "item_id": opened.item["id"], "output_index": opened.index, "content_index": 0,
            **fields,
        }  # fmt: skip

    def _part_event(self, name: str, text: str, opened: _Open | None = None) -> Event:
        if self.spec.modality == "audio":
            part = {"type": "audio", "transcript": text}
        else:
            part = {"type": "text", "text": text}
        return self._content_event(name, opened, part=part)

    def _usage_dict(self) -> Event:
        usage, given = self._usage, self.spec.input
        text_tokens, audio_tokens = usage.text_tokens, usage.audio_tokens
        output_tokens = text_tokens + audio_tokens
        details: Event = {
            "text_tokens": given.text,
            "audio_tokens": given.audio,
            "cached_tokens": given.cached,
        }
        if self.spec.dialect == GA:  # the preview protocol splits neither images nor the cache
            details["image_tokens"] = given.image
            details["cached_tokens_details"] = {
                "text_tokens": given.cached_text,
                "audio_tokens": given.cached_audio,
                "image_tokens": given.cached_image,
            }
        return {
            "total_tokens": given.total + output_tokens,
            "input_tokens": given.total,
            "output_tokens": output_tokens,
            "input_token_details": details,
            "output_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens},
        }


def _rate_limits(input_tokens: int) -> Event:
    return {
        "type": "rate_limits.updated",
        "rate_limits": [
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {
                "name": "tokens",
                "limit": 40000,
                "remaining": 40000 - input_tokens,
                "reset_seconds": 1.4,
            },
        ],
    }


def _pieces(text: str, count: int) -> list[str]:
    """Split into at most ``count`` non-empty pieces (arguments stream in several deltas)."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / count))
    return [text[start : start + size] for start in range(0, len(text), size)]


def _words(text: str) -> list[str]:
    """Deltas of a few words each, keeping the spaces so the deltas join back to ``text``."""
    if not text:
        return []
    tokens = text.split(" ")
    groups = [tokens[i : i + WORDS_PER_DELTA] for i in range(0, len(tokens), WORDS_PER_DELTA)]
    pieces = [" ".join(group) for group in groups]
    return [p + " " if i < len(pieces) - 1 else p for i, p in enumerate(pieces)]


def _tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0
