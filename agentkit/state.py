"""The sans-I/O core: what to do about each server event, tool result and application request.

:class:`ConversationState` holds no socket, task or event loop. It takes events in and hands back
:data:`Action` values (send this client event, start this call, cancel those calls, tell the
application this). The session performs them. Every dispatch rule lives here, once:

* a call starts when its ``response.output_item.done`` says ``completed`` (or, if the service
  skipped that, when ``response.done`` lists it); a ``call_id`` seen before is never run again;
* outputs are posted after ``response.done`` of the calling response, one per ``call_id``;
* one ``response.create`` follows, once every call of a completed response has its output,
  never while a response is active (``conversation_already_has_active_response`` re-queues it);
* rounds of tool calls per user turn are capped; past the cap the model must answer in words.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agentkit.events import (
    ErrorOccurred,
    Interrupted,
    ResponseFinished,
    ResponseStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.events import Event as AppEvent
from agentkit.history import (
    Entry,
    HistoryItem,
    Replay,
    lost_output,
    new_entry,
    replay_item,
    resume_note,
)
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import (
    RESUME_ITEM_PREFIX,
    ClientEvent,
    ConversationItemCreate,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    ResponseCancel,
    ResponseCreate,
    function_call_output,
    response_create,
)
from agentkit.protocol.config import ResponseOptions
from agentkit.tools import ToolResult

__all__ = [
    "Action",
    "CancelCalls",
    "Call",
    "ConversationState",
    "Emit",
    "HistoryItem",
    "InterruptPolicy",
    "Replay",
    "Send",
    "StartCall",
]

InterruptPolicy = Literal["finish", "cancel"]
"""What barge-in does to running tools: let them finish and post, or cancel them."""

_PCM16_BYTES_PER_MS = 48  # 24 kHz mono 16-bit
_FINISHED_MEMORY = 64  # response ids remembered to spot duplicated response events
_SENT_MEMORY = 128  # errors answer within moments; older events need not be matched
# Answered call ids kept to refuse re-sent calls; replays re-send recent calls, not old ones.
_ANSWERED_MEMORY = 10_000
_ALREADY_ACTIVE = "conversation_already_has_active_response"
_AUDIO_PARTS = frozenset(("output_audio", "input_audio"))


@dataclass(frozen=True, slots=True)
class Send:
    event: ClientEvent


@dataclass(frozen=True, slots=True)
class StartCall:
    call: Call


@dataclass(frozen=True, slots=True)
class CancelCalls:
    call_ids: tuple[str, ...]
    reason: str


class Emit:
    """Tell the application ``make(*args, **fields)``.

    The event is built when it is told, which the session does after writing the replies
    decided with it: building a validated event costs microseconds that a tool round's
    replies should not wait for.
    """

    __slots__ = ("_args", "_fields", "_make")

    def __init__(self, make: Callable[..., AppEvent], *args: Any, **fields: Any) -> None:
        self._make = make
        self._args = args
        self._fields = fields

    @property
    def event(self) -> AppEvent:
        return self._make(*self._args, **self._fields)

    def __repr__(self) -> str:
        return f"Emit({self.event!r})"


Action = Send | StartCall | CancelCalls | Emit


@dataclass(slots=True)
class Call:
    """One function call from the model, and what became of it."""

    call_id: str
    name: str
    arguments: str
    response_id: str | None
    item_id: str | None = None
    result: ToolResult | None = None
    posted: bool = False
    response_done: bool = False
    started_at: float = 0.0


@dataclass(slots=True)
class _Round:
    call_ids: set[str]
    respond: bool = False
    interrupted: bool = False  # its calls were cancelled by barge-in: the user speaks next


@dataclass(slots=True)
class _AudioPlayback:
    item_id: str
    received_ms: float = 0.0
    first_delta_at: float = 0.0
    played_ms: int | None = None


@dataclass(slots=True)
class _Pending:
    options: ResponseOptions | None
    follow_up: bool


@dataclass
class ConversationState:
    """Decisions for one realtime conversation; see the module docstring for the rules.

    Args:
        max_tool_rounds: follow-up responses caused by tool calls allowed per user turn.
        max_history_items: conversation items kept (the oldest go first); a reconnect replays
            at most the reconnect policy's ``replay_items`` of them anyway.
        interrupt_policy: what barge-in does to running tools.
        auto_interrupt: True when the server cancels responses itself on speech
            (server/semantic VAD with ``interrupt_response``); otherwise agentkit cancels.
        auto_response: True when the server answers a user's spoken turn itself (VAD with
            ``create_response``); a follow-up held back during speech is then left to it.
        clock: a monotonic clock in seconds, injectable for tests.
    """

    max_tool_rounds: int = 8
    max_history_items: int = 5_000
    max_argument_chars: int = 64_000
    max_calls_per_minute: int | None = None
    interrupt_policy: InterruptPolicy = "finish"
    auto_interrupt: bool = True
    auto_response: bool = False
    stale_response_after: float | None = 30.0
    clock: Callable[[], float] = time.monotonic
    active_response_id: str | None = None
    calls: dict[str, Call] = field(default_factory=dict)
    _history: OrderedDict[str, Entry] = field(default_factory=OrderedDict, init=False)
    # Items seen but not yet in the history, with their position and response: recorded
    # once the replies are written (see record_history), or before any read of the history.
    _unrecorded: list[tuple[ev.Item, str | None, str | None]] | None = None
    rounds_this_turn: int = 0
    connected: bool = True
    _inflight_create: str | None = None  # the event id of a response.create not yet answered
    _pending: _Pending | None = None
    _response_calls: dict[str, list[str]] = field(default_factory=dict)
    _rounds: list[_Round] = field(default_factory=list)
    _unacked_outputs: dict[str, None] = field(default_factory=dict)  # a set, in 1/3 the bytes
    # event id -> its type, or a response.create's overrides (kept to ask again); insertion order
    # bounds it. Plain strings, not events: long sessions must not grow the collector's work.
    _sent: dict[str, str | ResponseOptions] = field(default_factory=dict)
    # Bounded FIFO: OrderedDict pops its oldest key in O(1); a dict's first key after many
    # deletions at the front takes a scan over the holes they leave.
    _answered: OrderedDict[str, None] | None = None  # made at the first answered call
    _audio: _AudioPlayback | None = None
    _unacked_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    _busy_elsewhere: bool = False
    _recent_calls: deque[float] | None = None  # made when a call budget is set
    _finished_ids: dict[str, None] = field(default_factory=dict)  # insertion-ordered, bounded
    _active_touched: float = 0.0
    _user_speaking: bool = False

    # -- application requests -------------------------------------------------------------

    def request_response(self, options: ResponseOptions | None = None) -> list[Action]:
        """The application asks the model to respond; queued while a response is active."""
        self._pending = _Pending(options, follow_up=False)
        self.rounds_this_turn = 0
        return self._maybe_create()

    def cancel_response(self) -> list[Action]:
        """The application stops the current response (``interrupt`` also truncates audio).

        A response the application asked for and that has not started is dropped too; a tool
        round's follow-up is not, since the model still owes an answer to its calls.
        """
        if self._pending is not None and not self._pending.follow_up:
            self._pending = None
        if self.active_response_id is None:
            return []
        return [self.sent(ResponseCancel(response_id=self.active_response_id))]

    def interrupt(self) -> list[Action]:
        """The application cuts the assistant off: cancel, truncate what was not heard."""
        actions: list[Action] = []
        if self.active_response_id is not None:
            actions.append(self.sent(ResponseCancel(response_id=self.active_response_id)))
        actions.extend(self._barge_in())
        return actions

    def report_playback(self, item_id: str, played_ms: int) -> None:
        """The application tells how much of an audio item the user has heard so far."""
        if self._audio is not None and self._audio.item_id == item_id:
            self._audio.played_ms = played_ms

    def progress(self, message: str) -> list[Action]:
        """A running tool reported progress: let the model say so, if nothing else is speaking.

        The progress response is not a tool round; the follow-up still waits for the outputs.
        """
        if self._busy() or self._pending:
            return []
        instructions = (
            "Tell the user in one short sentence that you are still working on it: " + message
        )
        options = ResponseOptions(instructions=instructions, tool_choice="none")
        return [self._create(options)]

    def idle(self) -> bool:
        """Nothing in progress: no response active or wanted, and every call answered."""
        return (
            self.active_response_id is None
            and self._inflight_create is None
            and self._pending is None
            and not self._rounds
            and all(call.posted for call in self.calls.values())
        )

    def sent(self, event: ClientEvent) -> Send:
        """Remember an outgoing event so an ``error`` can be matched back to it."""
        if type(event) is not InputAudioBufferAppend:
            # Only a response.create is needed whole (to ask again); for the rest, the type.
            kept = event.response if type(event) is ResponseCreate else None
            self._sent[event.event_id] = kept if kept is not None else event.type
            if len(self._sent) > _SENT_MEMORY:
                del self._sent[next(iter(self._sent))]
            if type(event) is ConversationItemCreate and _is_input(event.item):
                self._unacked_items[event.item["id"]] = event.item
        return Send(event)

    # -- tool results -----------------------------------------------------------------------

    def call_finished(self, call_id: str, result: ToolResult) -> list[Action]:
        """A tool produced its result (or the dispatcher decided one: timeout, cancelled...)."""
        call = self.calls.get(call_id)
        if call is None or call.result is not None:
            return []
        call.result = result
        duration_s = max(0.0, self.clock() - call.started_at)
        actions: list[Action] = [Emit(_finished_event, call, duration_s)]
        if call.response_id is None or call.response_done:
            actions.extend(self._post(call))
            actions.extend(self._maybe_create())
        return actions

    def _post(self, call: Call) -> list[Action]:
        if call.posted or call.result is None:
            return []
        call.posted = True
        self._unacked_outputs[call.call_id] = None
        for round_ in self._rounds:
            if call.call_id in round_.call_ids:
                round_.call_ids.discard(call.call_id)
                round_.respond = round_.respond or call.result.respond
        return [self.sent(function_call_output(call.call_id, call.result.output))]

    # -- connection loss and restore -------------------------------------------------------

    def connection_lost(self) -> None:
        """The socket is gone, and with it the server's session: settle what was in flight.

        The active response is over. If it made calls, they form a round as if it had completed
        (each runs once and is answered on the new socket) and its words stay. Otherwise it is
        asked for again, so its words leave the history (the new response says them once). Either
        way, items the server never finished are dropped; a lost ``response.create`` is re-sent.
        """
        self.connected = False
        lost, self.active_response_id = self.active_response_id, None
        create_lost = self._inflight_create is not None
        self._inflight_create = None
        self._audio = None
        call_ids = self._response_calls.pop(lost, []) if lost is not None else []
        regenerated = lost if not call_ids else None
        for key in [k for k, entry in self.history.items() if lost_output(entry, regenerated)]:
            del self.history[key]
        for call_id in call_ids:
            self.calls[call_id].response_done = True
        if call_ids:
            self._rounds.append(_Round({c for c in call_ids if not self.calls[c].posted}))
        elif (lost is not None or create_lost) and self._pending is None:
            self._pending = _Pending(None, follow_up=False)

    def replay(self, max_items: int) -> Replay:
        """Client events that rebuild the conversation on a fresh session, oldest first.

        Assistant audio comes back as its transcript (audio cannot be injected); user audio comes
        back as its transcript when there is one, and is reported as lost otherwise.
        """
        entries = list(self.history.values())[-max_items:] if max_items > 0 else []
        skipped = len(self.history) - len(entries)
        events: list[ConversationItemCreate] = []
        not_restored: list[str] = (
            [f"{skipped} older items beyond the replay budget"] if skipped else []
        )
        for entry in entries:
            item = replay_item(entry)
            if item is None:
                kind, item_id = entry["role"] or entry["type"], entry["item_id"]
                not_restored.append(f"{kind} item {item_id} (audio, no transcript)")
            else:
                events.append(ConversationItemCreate(item=item))
        if any(e["has_audio"] and e["role"] == "assistant" for e in entries):
            not_restored.append("assistant audio (restored as its transcript)")
        replayed = {
            entry["call_id"] for entry in entries if entry["type"] == "function_call_output"
        }
        for call_id in list(self._unacked_outputs):
            call = self.calls.get(call_id)
            if call is not None and call.result is not None and call_id not in replayed:
                events.append(function_call_output(call_id, call.result.output))
        if events:
            events.append(resume_note())
        events.extend(ConversationItemCreate(item=item) for item in self._unacked_items.values())
        return Replay(tuple(events), restored=len(entries), not_restored=tuple(not_restored))

    def resumed(self) -> list[Action]:
        """The new socket is configured and restored: post what waited, ask for what was lost."""
        self.connected = True
        actions: list[Action] = []
        for call in self.calls.values():
            if call.response_done and call.result is not None and not call.posted:
                actions.extend(self._post(call))
        actions.extend(self._maybe_create())
        return actions

    # -- server events ----------------------------------------------------------------------

    def on_event(self, event: ev.ServerEvent) -> list[Action]:
        """Decide what a server event means; most events need nothing."""
        active = self.active_response_id
        # __dict__, not getattr: a model without the field answers getattr by raising inside.
        if active is not None and event.__dict__.get("response_id") == active:
            self._active_touched = self.clock()
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler is not None else []

    def stale_in(self) -> float | None:
        """Seconds until the active response counts as stale (``None``: nothing to watch)."""
        limit = self.stale_response_after
        if self.active_response_id is None or limit is None:
            return None
        return max(0.0, self._active_touched + limit - self.clock())

    def check_stale(self) -> list[Action]:
        """Give up on an "active" response the server has said nothing about for too long.

        A lost ``response.done`` or a stray ``response.created`` would otherwise hold every
        later ``response.create`` forever. Asking again is safe: if a response really is
        active, the service answers ``conversation_already_has_active_response`` and the
        request waits for it.
        """
        remaining = self.stale_in()
        if remaining is None or remaining > 0:
            return []
        limit = self.stale_response_after
        stale, self.active_response_id = self.active_response_id, None
        message = f"no event for response {stale} in {limit:g} s; no longer waiting for it"
        return [Emit(ErrorOccurred, message=message, code="stale_response"), *self._maybe_create()]

    def _on_audio_delta(self, event: ev.ResponseAudioDelta) -> list[Action]:
        audio = self._audio
        if audio is None or audio.item_id != event.item_id:
            audio = self._audio = _AudioPlayback(
                item_id=event.item_id or "", first_delta_at=self.clock()
            )
        audio.received_ms += len(event.delta) * 3 / 4 / _PCM16_BYTES_PER_MS
        return []

    def _on_response_created(self, event: ev.ResponseCreated) -> list[Action]:
        if event.response.id is not None and event.response.id in self._finished_ids:
            return []  # a duplicate of a response that already ended
        self.active_response_id = event.response.id
        self._active_touched = self.clock()
        self._inflight_create = None
        pending = self._pending
        if pending is not None and pending.follow_up and not self._unacked_outputs:
            if not any(round_.call_ids for round_ in self._rounds):
                self._pending = None  # this response already sees every output
        return [Emit(ResponseStarted, response_id=event.response.id)]

    def _forget(self, call_id: str) -> None:
        """An answered call the server acknowledged needs only its id (long sessions stay small)."""
        call = self.calls.get(call_id)
        if call is not None and call.posted and call.response_done:
            del self.calls[call_id]
            if self._answered is None:
                self._answered = OrderedDict()
            self._answered[call_id] = None
            if len(self._answered) > _ANSWERED_MEMORY:
                self._answered.popitem(last=False)

    def _on_output_item_added(self, event: ev.ResponseOutputItemAdded) -> list[Action]:
        self._remember_item(event.item, response_id=event.response_id)
        return []

    def _on_output_item_done(self, event: ev.ResponseOutputItemDone) -> list[Action]:
        item = event.item
        self._remember_item(item, response_id=event.response_id)
        if item.type != "function_call" or not item.call_id:
            return []
        if event.response_id != self.active_response_id:
            # Out of order: no response we know of is running. Answer it when it ends, alone.
            return self._new_call(item, None)
        return self._new_call(item, event.response_id)

    def _new_call(self, item: ev.Item, response_id: str | None) -> list[Action]:
        call_id = item.call_id or ""
        if call_id in self.calls or (self._answered is not None and call_id in self._answered):
            return []  # models and replays re-send calls; a call_id runs at most once
        call = Call(call_id, item.name or "", item.arguments or "", response_id, item.id)
        call.started_at = self.clock()
        self.calls[call_id] = call
        if response_id is not None:
            self._response_calls.setdefault(response_id, []).append(call_id)
        if item.status not in (None, "completed"):
            message = "the call was cut off before its arguments were complete"
            return self.call_finished(call_id, ToolResult.error(message, error_type="cancelled"))
        refusal = self._refusal(call)
        if refusal is not None:
            return [_started(call), *self.call_finished(call_id, refusal)]
        return [_started(call), StartCall(call)]

    def _refusal(self, call: Call) -> ToolResult | None:
        """A call answered without running: over the round cap, too large, or over budget."""
        if self.rounds_this_turn >= self.max_tool_rounds:
            message = "tool round limit reached for this turn; answer the user without tools"
            # respond=False: the capped follow-up already said tool_choice "none"; asking again
            # would let a model that keeps calling loop forever.
            return ToolResult.error(message, error_type="round_limit", respond=False)
        if len(call.arguments) > self.max_argument_chars:
            message = (
                f"arguments for {call.name} are too large ({len(call.arguments)} characters, "
                f"limit {self.max_argument_chars}); call it again with shorter arguments"
            )
            return ToolResult.error(message, error_type="invalid_arguments")
        if self._over_call_budget():
            message = f"too many tool calls (limit {self.max_calls_per_minute} per minute)"
            return ToolResult.error(message, error_type="rate_limited")
        return None

    def _over_call_budget(self) -> bool:
        if self.max_calls_per_minute is None:
            return False
        now = self.clock()
        recent = self._recent_calls
        if recent is None:
            recent = self._recent_calls = deque()
        while recent and now - recent[0] >= 60.0:
            recent.popleft()
        if len(recent) >= self.max_calls_per_minute:
            return True
        recent.append(now)
        return False

    def _on_response_done(self, event: ev.ResponseDone) -> list[Action]:
        response = event.response
        response_id = response.id or ""
        if response_id in self._finished_ids:
            return []  # a duplicate; this response was settled already
        self._finished_ids[response_id] = None
        if len(self._finished_ids) > _FINISHED_MEMORY:
            del self._finished_ids[next(iter(self._finished_ids))]
        if response_id == self.active_response_id:
            self.active_response_id = None
        self._busy_elsewhere = False
        actions: list[Action] = []
        for item in response.output:
            self._remember_item(item)
            if item.type == "function_call" and item.call_id and item.call_id not in self.calls:
                actions.extend(self._new_call(item, response_id))
        call_ids = self._response_calls.pop(response_id, [])
        for call_id in call_ids:
            self.calls[call_id].response_done = True
        if call_ids and response.status in (None, "completed"):
            self._rounds.append(_Round({c for c in call_ids if not self.calls[c].posted}))
        elif call_ids and self.interrupt_policy == "cancel":
            running = tuple(c for c in call_ids if self.calls[c].result is None)
            if running:
                actions.append(CancelCalls(running, reason=response.status_reason or "cancelled"))
        for call_id in call_ids:
            actions.extend(self._post(self.calls[call_id]))
        actions.append(Emit(_response_finished, response))
        actions.extend(self._maybe_create())
        return actions

    def _maybe_create(self) -> list[Action]:
        for round_ in [r for r in self._rounds if not r.call_ids]:
            self._rounds.remove(round_)
            wanted = round_.respond and not round_.interrupted
            if wanted and (self._pending is None or self._pending.follow_up):
                self._pending = _Pending(self._follow_up_options(), follow_up=True)
        pending = self._pending
        if pending is None or self._busy():
            return []
        if not self.connected:
            return []  # decided again by resumed(), on the new socket
        if pending.follow_up and any(round_.call_ids for round_ in self._rounds):
            return []
        if pending.follow_up and self._user_speaking:
            return []  # never talk over the user: the follow-up waits for the end of speech
        self._pending = None
        if pending.follow_up:
            self.rounds_this_turn += 1
        return [self._create(pending.options)]

    def _create(self, options: ResponseOptions | None) -> Send:
        event = response_create(options)
        self._inflight_create = event.event_id  # the id only: it may wait a while for its answer
        return self.sent(event)

    def _busy(self) -> bool:
        """A response is active, or asked for, so a response.create now would be rejected."""
        return (
            self.active_response_id is not None
            or self._inflight_create is not None
            or self._busy_elsewhere
        )

    def _follow_up_options(self) -> ResponseOptions | None:
        if self.rounds_this_turn + 1 >= self.max_tool_rounds:
            return ResponseOptions(tool_choice="none")
        return None

    def _on_error(self, event: ev.ErrorEvent) -> list[Action]:
        error = event.error
        cause = self._sent.get(error.event_id or "")
        inflight = self._inflight_create
        if cause is not None and inflight is not None and inflight == error.event_id:
            self._inflight_create = None  # rejected: no response.created will come for it
        was_create = isinstance(cause, ResponseOptions) or cause == "response.create"
        if was_create and error.code == _ALREADY_ACTIVE:
            # Benign race (often server VAD starting a response): ask again after it ends,
            # even if its response.created has not reached us yet.
            self._busy_elsewhere = self.active_response_id is None
            if self._pending is None:
                options = cause if isinstance(cause, ResponseOptions) else None
                self._pending = _Pending(options, follow_up=False)
            return self._maybe_create()
        return [
            Emit(
                ErrorOccurred,
                message=error.message,
                code=error.code,
                error_type=error.type,
                event_id=error.event_id,
                caused_by="response.create" if was_create else cause,
            )
        ]

    def _on_item_added(self, event: ev.ConversationItemAdded) -> list[Action]:
        item = event.item
        self._remember_item(item, after=event.previous_item_id)
        if item.id is not None:
            self._unacked_items.pop(item.id, None)
        if item.type == "function_call_output" and item.call_id:
            self._unacked_outputs.pop(item.call_id, None)
            self._forget(item.call_id)
        elif item.type == "message" and item.role == "user":
            self.rounds_this_turn = 0
        return []

    def _on_item_done(self, event: ev.ConversationItemDone) -> list[Action]:
        self._remember_item(event.item)
        return []

    def _on_committed(self, event: ev.InputAudioBufferCommitted) -> list[Action]:
        self.rounds_this_turn = 0
        return self._speech_over()

    def _on_speech_stopped(self, event: ev.InputAudioBufferSpeechStopped) -> list[Action]:
        return self._speech_over()

    def _speech_over(self) -> list[Action]:
        """The user stopped talking: a follow-up held back meanwhile goes now, unless server VAD
        answers the turn itself (that response sees the outputs already posted)."""
        if not self._user_speaking:
            return []
        self._user_speaking = False
        if self.auto_response and self._pending is not None and self._pending.follow_up:
            self._pending = None  # the server answers the turn itself, and sees the outputs
        return self._maybe_create()

    def _on_item_deleted(self, event: ev.ConversationItemDeleted) -> list[Action]:
        self.history.pop(event.item_id, None)
        return []

    def _on_truncated(self, event: ev.ConversationItemTruncated) -> list[Action]:
        entry = self.history.get(event.item_id)
        if entry is not None:
            entry["truncated"] = True
        return []

    def _on_user_transcript(self, event: ev.InputAudioTranscriptionCompleted) -> list[Action]:
        entry = self.history.get(event.item_id)
        if entry is not None:
            entry["text"] = event.transcript
        return []

    def _on_speech_started(self, event: ev.InputAudioBufferSpeechStarted) -> list[Action]:
        self._user_speaking = True
        if self.active_response_id is None and self._audio is None and not self._cancellable():
            return []
        actions: list[Action] = []
        if not self.auto_interrupt and self.active_response_id is not None:
            actions.append(self.sent(ResponseCancel(response_id=self.active_response_id)))
        actions.extend(self._barge_in())
        return actions

    def _barge_in(self) -> list[Action]:
        audio, self._audio = self._audio, None
        response_id = self.active_response_id
        actions: list[Action] = []
        end_ms = self._unheard_from(audio)
        if audio is not None and end_ms is not None:
            # conversation.item.truncate: drop the audio (and its transcript) the user never heard.
            truncate = ConversationItemTruncate(item_id=audio.item_id, audio_end_ms=end_ms)
            actions.append(self.sent(truncate))
        running = self._cancellable()
        if end_ms is None and response_id is None and not running:
            return actions  # nothing was playing, answering or running: nothing to interrupt
        if running:
            actions.append(CancelCalls(running, reason="interrupted"))
            for round_ in self._rounds:
                round_.interrupted = round_.interrupted or bool(round_.call_ids & set(running))
        item_id = audio.item_id if audio is not None else None
        actions.append(
            Emit(Interrupted, response_id=response_id, item_id=item_id, audio_end_ms=end_ms)
        )
        return actions

    def _cancellable(self) -> tuple[str, ...]:
        """Running calls that a barge-in cancels (only under the "cancel" policy)."""
        if self.interrupt_policy != "cancel":
            return ()
        return tuple(call.call_id for call in self.calls.values() if call.result is None)

    def _unheard_from(self, audio: _AudioPlayback | None) -> int | None:
        """Where playback of ``audio`` stands, if the user has not heard all of it yet."""
        if audio is None:
            return None
        heard = audio.played_ms
        if heard is None:
            heard = int((self.clock() - audio.first_delta_at) * 1000)
        return heard if heard < int(audio.received_ms) else None

    @property
    def history(self) -> OrderedDict[str, Entry]:
        """The conversation as the session sees it, by item id, oldest first."""
        if self._unrecorded:
            self.record_history()
        return self._history

    def record_history(self) -> None:
        """Record the items seen since the last call. The session calls this after writing its
        replies (keeping a history is bookkeeping the service does not wait for); reading
        :attr:`history` calls it first, so no reader sees it behind."""
        pending, self._unrecorded = self._unrecorded, None
        for item, after, response_id in pending or ():
            self._record(item, after, response_id)

    def _remember_item(
        self, item: ev.Item, after: str | None = None, response_id: str | None = None
    ) -> None:
        pending = self._unrecorded
        if pending is None:
            self._unrecorded = [(item, after, response_id)]
        else:
            pending.append((item, after, response_id))

    def _record(self, item: ev.Item, after: str | None, response_id: str | None) -> None:
        item_id = item.id
        if not item_id or item_id.startswith(RESUME_ITEM_PREFIX):
            return
        entry = self._history.get(item_id)
        if entry is None:
            entry = self._new_entry(item_id, item.type, after)
        _update_entry(entry, item, response_id)

    def _new_entry(self, item_id: str, item_type: str, after: str | None) -> Entry:
        history = self._history
        last = next(reversed(history), None) if after is not None else None
        entry = history[item_id] = new_entry(item_id, item_type)
        if after is not None and after != last and after in history:
            self._move_after(item_id, after)
        if len(history) > self.max_history_items:
            history.popitem(last=False)  # the oldest; the service truncates too
        return entry

    def history_items(self) -> list[HistoryItem]:
        """The history as immutable :class:`HistoryItem` views, oldest first."""
        return [HistoryItem(**entry) for entry in self.history.values()]

    def _move_after(self, item_id: str, after: str) -> None:
        history = self._history
        keys = list(history)
        keys.remove(item_id)
        keys.insert(keys.index(after) + 1, item_id)
        for key in keys[keys.index(item_id) :]:
            history.move_to_end(key)


_HANDLERS: dict[type, Callable[[ConversationState, object], list[Action]]] = {
    ev.ResponseAudioDelta: ConversationState._on_audio_delta,  # type: ignore[dict-item]
    ev.ResponseCreated: ConversationState._on_response_created,  # type: ignore[dict-item]
    ev.ResponseOutputItemAdded: ConversationState._on_output_item_added,  # type: ignore[dict-item]
    ev.ResponseOutputItemDone: ConversationState._on_output_item_done,  # type: ignore[dict-item]
    ev.ResponseDone: ConversationState._on_response_done,  # type: ignore[dict-item]
    ev.ErrorEvent: ConversationState._on_error,  # type: ignore[dict-item]
    ev.ConversationItemAdded: ConversationState._on_item_added,  # type: ignore[dict-item]
    ev.ConversationItemDone: ConversationState._on_item_done,  # type: ignore[dict-item]
    ev.InputAudioBufferCommitted: ConversationState._on_committed,  # type: ignore[dict-item]
    ev.ConversationItemDeleted: ConversationState._on_item_deleted,  # type: ignore[dict-item]
    ev.ConversationItemTruncated: ConversationState._on_truncated,  # type: ignore[dict-item]
    ev.InputAudioTranscriptionCompleted: ConversationState._on_user_transcript,  # type: ignore[dict-item]
    ev.InputAudioBufferSpeechStarted: ConversationState._on_speech_started,  # type: ignore[dict-item]
    ev.InputAudioBufferSpeechStopped: ConversationState._on_speech_stopped,  # type: ignore[dict-item]
}


def _started(call: Call) -> Emit:
    return Emit(ToolCallStarted, call_id=call.call_id, name=call.name, arguments=call.arguments)


def _finished_event(call: Call, duration_s: float) -> ToolCallFinished:
    result = call.result
    assert result is not None
    return ToolCallFinished(
        call_id=call.call_id,
        name=call.name,
        output=result.output,
        is_error=result.is_error,
        error_type=result.error_type,
        duration_s=duration_s,
    )


def _response_finished(response: ev.Response) -> ResponseFinished:
    text = "".join(item.text for item in response.output if item.type == "message")
    return ResponseFinished(
        response_id=response.id,
        status=response.status,
        reason=response.status_reason,
        usage=response.usage,
        text=text,
    )


def _is_input(item: dict[str, Any]) -> bool:
    """Items the application adds (user and system messages) that must survive a reconnect."""
    return item.get("type") == "message" and item.get("role") in ("user", "system") and "id" in item


def _update_entry(entry: Entry, item: ev.Item, response_id: str | None) -> None:
    """What the item says now; a field it leaves out keeps what an earlier event said."""
    if item.role:
        entry["role"] = item.role
    if item.call_id:
        entry["call_id"] = item.call_id
    if item.name:
        entry["name"] = item.name
    if item.arguments is not None:
        entry["arguments"] = item.arguments
    if item.output is not None:
        entry["output"] = item.output
    if item.status:
        entry["status"] = item.status
    if response_id:
        entry["response_id"] = response_id
    content = item.content
    if content:  # function calls and their outputs have none
        text = item.text
        if text:
            entry["text"] = text
        if not entry["has_audio"]:
            entry["has_audio"] = any(part.type in _AUDIO_PARTS for part in content)
