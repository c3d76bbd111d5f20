"""The server side of one connection, sans-I/O: client event dicts in, server event dicts out.

:class:`ConnectionState` holds the session, the conversation, the input audio buffer and the
responses in flight. ``receive()`` answers a client event at once (replies and errors);
``next_event()`` hands out the streamed events of running responses one at a time, so the I/O
layer can interleave client events (``response.cancel``, barge-in) between them. No socket, loop
or clock here: tests drive it with plain lists.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from agentkit.testing import audio
from agentkit.testing import session_config as config
from agentkit.testing.conversation import Conversation, public_item
from agentkit.testing.dialect import GA, Dialect
from agentkit.testing.hosted_mcp import HostedService, Job, without_secrets
from agentkit.testing.ids import IdFactory
from agentkit.testing.items import check_item
from agentkit.testing.response import ResponseRun, ResponseSpec, count_input
from agentkit.testing.scenario import Planned, PlannedCall, Scenario, Turn
from agentkit.testing.vad import ServerVad

__all__ = ["CLIENT_EVENT_TYPES", "MIN_COMMIT_MS", "ConnectionState"]

log = logging.getLogger("agentkit.testing")
Event = dict[str, Any]
SERVER_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! "
    "(the simulator logged the exception under 'agentkit.testing')"
)
MIN_COMMIT_MS = 100
"""Shortest buffer ``input_audio_buffer.commit`` accepts (the service asks for ~100 ms)."""
MAX_SILENT_KEPT_MS = 10_000
"""Audio kept, beyond the prefix padding, while server VAD hears no speech."""

CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
)


class ConnectionState:
    """Everything the service remembers about one socket.

    Args:
        dialect: ``"ga"`` or ``"preview"``, chosen by the handshake URL.
        model: the model (GA) or deployment (preview) named in the URL.
        scenario: the scripted model answering responses.
        expires_at: unix time announced in ``session.created``.
        tag: makes this connection's ids distinct from other connections'.
        family: the model the session runs, when ``model`` does not say it (an Azure
            deployment name); ``""`` for not known: then the session takes every option.
    """

    def __init__(
        self,
        dialect: Dialect,
        model: str,
        scenario: Scenario | Turn | None = None,
        *,
        expires_at: int = 0,
        tag: str = "sim",
        family: str | None = None,
    ) -> None:
        self.dialect = dialect
        self.traits = config.model_traits(model if family is None else family)
        self.ids = IdFactory(tag)
        self.session = config.default_session(dialect, model, self.ids.new("sess"), expires_at)
        self.conversation = Conversation(self.ids.new("conv"))
        self.hosted = HostedService(dialect, self.ids, self.conversation)
        self.runner = (scenario or Scenario()).runner()
        self.active: ResponseRun | None = None
        self.out_of_band: list[ResponseRun] = []
        self.audio_buffer = bytearray()
        self._vad: ServerVad | None = None
        self._speech_item: str | None = None
        self._configure_vad()
        self._handlers: dict[str, Callable[[Mapping[str, Any]], list[Event]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_clear,
        }

    # -- public surface -----------------------------------------------------------------

    def open(self) -> list[Event]:
        """The events the service sends as soon as the socket is open."""
        created = {"type": "session.created", "session": copy.deepcopy(self.session)}
        conversation = {"id": self.conversation.id, "object": "realtime.conversation"}
        return self._stamp(
            [created, {"type": "conversation.created", "conversation": conversation}]
        )

    def receive_text(self, frame: str | bytes) -> list[Event]:
        """Decode one WebSocket frame and answer it (malformed JSON gets an ``error``)."""
        try:
            event = json.loads(frame)
        except ValueError:
            return self._error(
                "invalid_json", "The server could not parse the client event as JSON."
            )
        if not isinstance(event, dict):
            return self._error("invalid_json", "A client event must be a JSON object.")
        return self.receive(event)

    def receive(self, event: Mapping[str, Any]) -> list[Event]:
        """Answer one client event with the events to send now."""
        handler = self._handlers.get(str(event.get("type")))
        if handler is None:
            supported = ", ".join(repr(name) for name in CLIENT_EVENT_TYPES)
            return self._error(
                "invalid_value",
                f"Invalid value: {event.get('type')!r}. Supported values are: {supported}.",
                event,
                param="type",
            )
        try:
            return self._stamp(handler(event))
        except Exception:  # a simulator bug must cost one event an error, not the connection
            log.exception("the simulator failed to handle a %s event", event.get("type"))
            return self._server_error(event)

    def next_event(self) -> Event | None:
        """The next streamed event of a running response, or ``None`` when none is running (or
        every one waits on a hosted MCP server: see :meth:`take_job`)."""
        own = self.hosted.next_event()
        if own is not None:
            return self._stamp([own])[0]
        for run in [r for r in (self.active, *self.out_of_band) if r is not None]:
            try:
                event = run.next_event()
            except Exception:
                log.exception("the simulator failed while streaming response %s", run.id)
                self._forget(run)
                return self._server_error(None)[0]
            if run.finished:
                self._forget(run)
            if event is not None:
                return self._stamp([event])[0]
        return None

    def take_job(self) -> Job | None:
        """Network work the I/O layer awaits before asking for events again: listing or
        calling a hosted MCP server (see :mod:`agentkit.testing.hosted_mcp`)."""
        return self.hosted.take_job()

    @property
    def streaming(self) -> bool:
        """Whether a response has events left to send."""
        return self.active is not None or bool(self.out_of_band)

    def expire(self, minutes: int) -> list[Event]:
        """The older way the service ended a session: an ``error`` with ``session_expired``."""
        message = f"Your session hit the maximum duration of {minutes} minutes."
        return self._error("session_expired", message)

    # -- session ------------------------------------------------------------------------

    def _session_update(self, event: Mapping[str, Any]) -> list[Event]:
        update = event.get("session")
        problem = config.validate_update(update, self.session, self.dialect, self.traits)
        if problem is not None:
            return self._error(problem.code, problem.message, event, param=problem.param)
        assert isinstance(update, Mapping)
        self.session = config.merge_update(self.session, update)
        self._configure_vad()
        if "tools" in update:
            self.hosted.configure(self.session.get("tools"))
        return [{"type": "session.updated", "session": without_secrets(self.session)}]

    def _configure_vad(self) -> None:
        detection = config.turn_detection(self.session, self.dialect)
        if not isinstance(detection, Mapping):
            self._vad = None
            return
        self._vad = ServerVad(
            threshold=float(detection.get("threshold") or 0.5),
            prefix_padding_ms=int(detection.get("prefix_padding_ms") or 300),
            silence_duration_ms=int(detection.get("silence_duration_ms") or 500),
            idle_timeout_ms=detection.get("idle_timeout_ms") or None,
        )

    # -- input audio buffer -------------------------------------------------------------

    def _append(self, event: Mapping[str, Any]) -> list[Event]:
        try:
            pcm = base64.b64decode(str(event.get("audio", "")), validate=True)
        except binascii.Error:
            return self._error("invalid_value", "Invalid base64 audio.", event, param="audio")
        self.audio_buffer += pcm
        vad = self._vad
        if vad is None:
            return []
        events: list[Event] = []
        for boundary in vad.feed(pcm):
            if boundary.kind == "started":
                events.extend(self._speech_started(boundary.audio_ms))
            elif boundary.kind == "timeout":
                events.extend(self._idle_timeout(boundary.since_ms, boundary.audio_ms))
            else:
                events.extend(self._speech_stopped(boundary.audio_ms))
        if not vad.in_speech:
            # As the service does between utterances: only the prefix padding is kept for the
            # next one, so an open microphone (a WebRTC call) does not pile up silence.
            keep = (vad.prefix_padding_ms + MAX_SILENT_KEPT_MS) * audio.BYTES_PER_MS
            if len(self.audio_buffer) > 2 * keep:
                del self.audio_buffer[:-keep]
        return events

    def _speech_started(self, audio_ms: int) -> list[Event]:
        self._speech_item = self.ids.new("item")
        events: list[Event] = [
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_ms,
                "item_id": self._speech_item,
            }
        ]
        detection = config.turn_detection(self.session, self.dialect) or {}
        # server_vad.interrupt_response: speech cancels the default-conversation response.
        if detection.get("interrupt_response", True) and self.active is not None:
            events.extend(self._cancel(self.active, "turn_detected"))
        return events

    def _speech_stopped(self, audio_ms: int) -> list[Event]:
        item_id = self._speech_item or self.ids.new("item")
        self._speech_item = None
        events: list[Event] = [
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_ms,
                "item_id": item_id,
            }
        ]
        events.extend(self._commit_buffer(item_id))
        detection = config.turn_detection(self.session, self.dialect) or {}
        if detection.get("create_response", True) and self.active is None:
            events.extend(self._start_response({}, {}))
        return events

    def _idle_timeout(self, since_ms: int, audio_ms: int) -> list[Event]:
        """No speech for ``idle_timeout_ms``: the service commits the silence and answers it."""
        item_id = self.ids.new("item")
        events: list[Event] = [
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": since_ms,
                "audio_end_ms": audio_ms,
                "item_id": item_id,
            }
        ]
        events.extend(self._commit_buffer(item_id))
        if self.active is None:
            events.extend(self._start_response({}, {}))
        return events

    def _commit(self, event: Mapping[str, Any]) -> list[Event]:
        if audio.duration_ms(len(self.audio_buffer)) < MIN_COMMIT_MS:
            message = (
                f"Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{audio.duration_ms(len(self.audio_buffer))}.00ms of audio."
            )
            return self._error("input_audio_buffer_commit_empty", message, event)
        return self._commit_buffer(self._speech_item or self.ids.new("item"))

    def _commit_buffer(self, item_id: str) -> list[Event]:
        pcm, self.audio_buffer = bytes(self.audio_buffer), bytearray()
        if self._vad is not None:
            self._vad.reset()
        self._speech_item = None
        transcript = self._transcribe(pcm)
        item = {
            "id": item_id, "object": "realtime.item", "type": "message", "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": transcript,
                         "audio": audio.to_base64(pcm)}],
        }  # fmt: skip
        previous = self.conversation.insert(item)
        committed = {
            "type": "input_audio_buffer.committed",
            "previous_item_id": previous,
            "item_id": item_id,
        }
        events = [committed, *self._item_events(item, previous)]
        if transcript is not None:
            events.extend(_transcription_events(item_id, transcript, audio.duration_ms(pcm)))
        return events

    def _transcribe(self, pcm: bytes) -> str | None:
        """The simulated recogniser: only when the client turned input transcription on."""
        if not config.input_transcription(self.session, self.dialect):
            return None
        # Count the user turns already in the conversation, not on this socket: after a client
        # replays its history on a new connection, the next utterance is still the next one.
        earlier = sum(
            1
            for item in self.conversation.items
            if item.get("type") == "message" and item.get("role") == "user"
        )
        return self.runner.scenario.transcript(earlier, audio.duration_ms(pcm))

    def _clear(self, event: Mapping[str, Any]) -> list[Event]:
        self.audio_buffer = bytearray()
        if self._vad is not None:
            self._vad.reset()
        self._speech_item = None
        return [{"type": "input_audio_buffer.cleared"}]

    # -- conversation items -------------------------------------------------------------

    def _item_create(self, event: Mapping[str, Any]) -> list[Event]:
        item = event.get("item")
        no_images = None if self.traits.images else str(self.session.get("model"))
        problem = check_item(item, self.dialect, model=no_images)
        if problem is not None:
            return self._error(problem.code, problem.message, event, param=problem.param)
        assert isinstance(item, Mapping)
        previous_id = event.get("previous_item_id")
        if previous_id not in (None, "root") and not self.conversation.has(str(previous_id)):
            message = f"Previous item with id {previous_id!r} not found."
            return self._error("invalid_value", message, event, param="previous_item_id")
        if item.get("id") and self.conversation.has(str(item["id"])):
            message = f"Item with id {item['id']!r} already exists."
            return self._error("invalid_value", message, event, param="item.id")
        call_id = item.get("call_id")
        if (
            item["type"] == "function_call_output"
            and self.conversation.function_call(str(call_id)) is None
        ):
            message = f"Tool call ID {call_id!r} not found in conversation."
            return self._error("invalid_tool_call_id", message, event, param="item.call_id")
        if item["type"] == "mcp_approval_response":
            refused = self._approval_problem(str(item.get("approval_request_id")))
            if refused is not None:
                param = "item.approval_request_id"
                return self._error("invalid_value", refused, event, param=param)
        stored = {**copy.deepcopy(dict(item)), "object": "realtime.item", "status": "completed"}
        stored["id"] = item.get("id") or self.ids.new("item")
        previous = self.conversation.insert(stored, previous_id and str(previous_id))
        return self._item_events(stored, previous)

    def _approval_problem(self, request_id: str) -> str | None:
        """An answer must name a request of the conversation, and be its only answer."""
        request = self.conversation.get(request_id)
        if request is None or request.get("type") != "mcp_approval_request":
            return f"Approval request {request_id!r} not found in conversation."
        for other in self.conversation.items:
            answered = other.get("approval_request_id") == request_id
            if answered and other.get("type") == "mcp_approval_response":
                return f"Approval request {request_id!r} was already answered."
        return None

    def _item_events(self, item: Mapping[str, Any], previous: str | None) -> list[Event]:
        shown = public_item(item)
        if self.dialect == GA:
            return [
                {"type": "conversation.item.added", "previous_item_id": previous, "item": shown},
                {"type": "conversation.item.done", "previous_item_id": previous, "item": shown},
            ]
        return [{"type": "conversation.item.created", "previous_item_id": previous, "item": shown}]

    def _item_retrieve(self, event: Mapping[str, Any]) -> list[Event]:
        item = self.conversation.get(str(event.get("item_id")))
        if item is None:
            return self._missing_item(event)
        return [{"type": "conversation.item.retrieved", "item": public_item(item, with_audio=True)}]

    def _item_delete(self, event: Mapping[str, Any]) -> list[Event]:
        item_id = str(event.get("item_id"))
        if not self.conversation.delete(item_id):
            return self._missing_item(event)
        return [{"type": "conversation.item.deleted", "item_id": item_id}]

    def _item_truncate(self, event: Mapping[str, Any]) -> list[Event]:
        item_id = str(event.get("item_id"))
        item = self.conversation.get(item_id)
        if item is None:
            return self._missing_item(event)
        end_ms = event.get("audio_end_ms")
        length = self.conversation.audio_ms.get(item_id)
        if length is None:
            message = f"Item {item_id!r} has no audio to truncate."
            return self._error("invalid_value", message, event, param="item_id")
        if not isinstance(end_ms, int) or not 0 <= end_ms <= length:
            message = (
                f"Audio content of {length}ms is shorter than requested audio_end_ms {end_ms}."
            )
            return self._error("invalid_value", message, event, param="audio_end_ms")
        # conversation.item.truncate: the unheard transcript leaves the context.
        self.conversation.audio_ms[item_id] = end_ms
        for part in item.get("content") or []:
            if "transcript" in part:
                part["transcript"] = ""
        content_index = event.get("content_index", 0)
        return [
            {"type": "conversation.item.truncated", "item_id": item_id,
             "content_index": content_index,
             "audio_end_ms": end_ms}
        ]  # fmt: skip

    def _missing_item(self, event: Mapping[str, Any]) -> list[Event]:
        message = f"Item with item_id {event.get('item_id')!r} not found."
        return self._error("invalid_value", message, event, param="item_id")

    # -- responses ----------------------------------------------------------------------

    def _response_create(self, event: Mapping[str, Any]) -> list[Event]:
        overrides = event.get("response") or {}
        if not isinstance(overrides, Mapping):
            return self._error(
                "invalid_type", "Invalid type for 'response'.", event, param="response"
            )
        wrong = "modalities" if self.dialect == GA else "output_modalities"
        if wrong in overrides:
            message = f"Unknown parameter: 'response.{wrong}'."
            return self._error("unknown_parameter", message, event, param=f"response.{wrong}")
        out_of_band = overrides.get("conversation") == "none"
        if self.active is not None and not out_of_band:
            message = (
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one."
            )
            return self._error("conversation_already_has_active_response", message, event)
        return self._start_response(overrides, event)

    def _start_response(
        self, overrides: Mapping[str, Any], event: Mapping[str, Any]
    ) -> list[Event]:
        out_of_band = overrides.get("conversation") == "none"
        context = self._context(overrides)
        effective = {**self.session, **overrides}
        spec = ResponseSpec(
            dialect=self.dialect,
            modality=config.output_modality(effective, self.dialect),
            conversation=None if out_of_band else self.conversation,
            metadata=overrides.get("metadata"),
            max_output_tokens=_max_tokens(effective, self.dialect),
            input=count_input(context, config.instructions(effective), self.conversation.audio_ms),
        )
        tools = config.session_tools(effective)
        no_tools = effective.get("tool_choice") == "none"
        if no_tools:
            tools = []
        # An out-of-band response must not move the conversation's place in the scenario.
        runner = self.runner.scenario.runner() if out_of_band else self.runner
        hosted = self.hosted

        def known_tools() -> list[dict[str, Any]]:
            return tools if no_tools else [*tools, *hosted.tools_for_model()]

        def plan() -> list[Planned]:
            return runner.plan(context, known_tools(), self.ids)

        def after_hosted(call: PlannedCall, output: str | None, error: Any) -> list[Planned]:
            return runner.hosted_call_done(call, output, error, known_tools(), self.ids)

        run = ResponseRun(
            self.ids.new("resp"),
            spec,
            plan if hosted.listing else plan(),
            self.ids,
            hosted=hosted,
            after_hosted=after_hosted,
        )
        if out_of_band:
            self.out_of_band.append(run)
        else:
            self.active = run
        first = [run.next_event(), run.next_event()]  # response.created, rate_limits.updated
        return [e for e in first if e is not None]

    def _context(self, overrides: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """``response.input`` builds a fresh context; otherwise the conversation is the context."""
        given = overrides.get("input")
        if not isinstance(given, list):
            return list(self.conversation.items)
        context: list[Mapping[str, Any]] = []
        for entry in given:
            if isinstance(entry, Mapping) and entry.get("type") == "item_reference":
                referenced = self.conversation.get(str(entry.get("id")))
                context.extend([referenced] if referenced else [])
            elif isinstance(entry, Mapping):
                context.append({"id": entry.get("id") or self.ids.new("item"), **entry})
        return context

    def _response_cancel(self, event: Mapping[str, Any]) -> list[Event]:
        wanted = event.get("response_id")
        runs = [r for r in (self.active, *self.out_of_band) if r is not None]
        run = next(
            (r for r in runs if wanted in (None, r.id) and (wanted or r is self.active)), None
        )
        if run is None:
            return self._error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
                event,
            )
        return self._cancel(run, "client_cancelled")

    def _cancel(self, run: ResponseRun, reason: str) -> list[Event]:
        self._forget(run)
        return run.cancel(reason)

    def _forget(self, run: ResponseRun) -> None:
        if run is self.active:
            self.active = None
        elif run in self.out_of_band:
            self.out_of_band.remove(run)

    def _output_clear(self, event: Mapping[str, Any]) -> list[Event]:
        """The service keeps no output buffer on a WebSocket: the event is for WebRTC and SIP."""
        message = "output_audio_buffer.clear is only supported for WebRTC and SIP connections."
        return self._error("unsupported_event", message, event, param="type")

    # -- event plumbing -----------------------------------------------------------------

    def _error(
        self,
        code: str,
        message: str,
        event: Mapping[str, Any] | None = None,
        *,
        param: str | None = None,
    ) -> list[Event]:
        client_event_id = event.get("event_id") if event else None
        error = {
            "type": "invalid_request_error", "code": code, "message": message, "param": param,
            "event_id": client_event_id,
        }  # fmt: skip
        return self._stamp([{"type": "error", "error": error}])

    def _server_error(self, event: Mapping[str, Any] | None) -> list[Event]:
        """What the service sends when it fails internally: ``type: server_error``."""
        error = {
            "type": "server_error", "code": None, "message": SERVER_ERROR_MESSAGE, "param": None,
            "event_id": event.get("event_id") if event else None,
        }  # fmt: skip
        return self._stamp([{"type": "error", "error": error}])

    def _stamp(self, events: list[Event]) -> list[Event]:
        """Give server events their own ``event_id``, placed after ``type`` as the service does."""
        stamped = []
        for event in events:
            if "event_id" in event:
                stamped.append(event)
                continue
            kind = event.pop("type")
            stamped.append({"type": kind, "event_id": self.ids.new("event"), **event})
        return stamped


def _max_tokens(config_: Mapping[str, Any], dialect: Dialect) -> int | str:
    key = "max_output_tokens" if dialect == GA else "max_response_output_tokens"
    value = config_.get(key, config_.get("max_output_tokens", "inf"))
    return value if isinstance(value, (int, str)) else "inf"


def _transcription_events(item_id: str, transcript: str, audio_ms: int) -> list[Event]:
    """``conversation.item.input_audio_transcription.delta`` then ``.completed``."""
    common = {"item_id": item_id, "content_index": 0}
    usage = {"type": "duration", "seconds": audio_ms / 1000}
    return [
        {
            "type": "conversation.item.input_audio_transcription.delta",
            **common,
            "delta": transcript,
        },
        {
            "type": "conversation.item.input_audio_transcription.completed",
            **common,
            "transcript": transcript,
            "usage": usage,
        },
    ]
