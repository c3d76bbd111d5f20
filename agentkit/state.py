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

from agentkit import hosted_mcp
from agentkit.actions import Action, Call, CancelCalls, Emit, Send, StartCall
from agentkit.approval import Approval
from agentkit.events import (
    AsideFinished,
    ErrorOccurred,
    Interrupted,
    ResponseFinished,
    ResponseStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.history import (
    Entry,
    History,
    HistoryItem,
    Replay,
    ReplayPlan,
    heard_part,
    lost_output,
    resume_note,
)
from agentkit.hosted_mcp import ApprovalCall
from agentkit.playback import MS_PER_BASE64_CHAR, Playback
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
    "ASIDE_KEY",
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

_FINISHED_MEMORY = 64  # response ids remembered to spot duplicated response events
_SENT_MEMORY = 128  # errors answer within moments; older events need not be matched
# Answered call ids kept to refuse re-sent calls; replays re-send recent calls, not old ones.
_ANSWERED_MEMORY = 10_000
# Outputs and user input the server has not acknowledged yet; a server that never does must not
# grow the session without bound (a real one acknowledges within moments).
_UNACKED_MEMORY = 1_000
_ALREADY_ACTIVE = "conversation_already_has_active_response"
_CANCEL_NOT_ACTIVE = "response_cancel_not_active"


@dataclass(slots=True)
class _Round:
    call_ids: set[str]
    respond: bool = False
    interrupted: bool = False  # its calls were cancelled by barge-in: the user speaks next


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
        max_history_chars: characters of text, arguments and outputs kept in the history (the
            oldest items go first), so a few huge items cannot grow a session without bound.
        interrupt_policy: what barge-in does to running tools.
        auto_interrupt: True when the server cancels responses itself on speech
            (server/semantic VAD with ``interrupt_response``); otherwise agentkit cancels.
        auto_response: True when the server answers a user's spoken turn itself (VAD with
            ``create_response``); a follow-up held back during speech is then left to it.
        server_vad: True when the service detects speech (turn detection on); without it a
            ``speech_started`` event is noise and is ignored.
        stale_response_after: seconds a wait on the service may last without a word from it
            (an active response, an unanswered ``response.create``, a response the service
            said was active elsewhere, a follow-up held for speech that never ended).
        clock: a monotonic clock in seconds, injectable for tests.
    """

    max_tool_rounds: int = 8
    max_history_items: int = 5_000
    max_history_chars: int = 8_000_000
    max_argument_chars: int = 64_000
    max_calls_per_minute: int | None = None
    interrupt_policy: InterruptPolicy = "finish"
    auto_interrupt: bool = True
    auto_response: bool = False
    server_vad: bool = True
    stale_response_after: float | None = 30.0
    clock: Callable[[], float] = time.monotonic
    active_response_id: str | None = None
    calls: dict[str, Call] = field(default_factory=dict)
    _log: History = field(init=False)
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
    _playback: Playback = field(init=False)
    _unacked_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    _busy_elsewhere: bool = False
    _busy_since: float = 0.0
    _inflight_since: float = 0.0
    _inflight_follow_up: _Pending | None = None  # the follow-up the inflight create carries
    _speech_since: float = 0.0
    _inflight_capped: bool = False  # the inflight create says tool_choice "none"
    _capped_response: str | None = None  # the last response asked to answer without tools
    _recent_calls: deque[float] | None = None  # made when a call budget is set
    _finished_ids: dict[str, None] = field(default_factory=dict)  # insertion-ordered, bounded
    _active_touched: float = 0.0
    _user_speaking: bool = False
    asides: dict[str, str] = field(default_factory=dict)  # response id -> aside id, running
    # False on a sideband: a lost socket does not end the call's response there, so it is
    # neither asked for again nor are its words dropped.
    regenerate_lost: bool = True
    _heard: dict[str, float] = field(default_factory=dict)  # item cut -> share of it heard
    # Hand-offs and guardrail recoveries this user turn; a user message replayed after a
    # reconnect is no new turn for them, so a transfer loop cannot restart its count.
    handoffs_this_turn: int = 0
    recoveries_this_turn: int = 0

    def __post_init__(self) -> None:
        self._log = History(self.max_history_items, self.max_history_chars)
        self._playback = Playback(self.clock)

    # -- application requests -------------------------------------------------------------

    def request_response(self, options: ResponseOptions | None = None) -> list[Action]:
        """The application asks the model to respond; queued while a response is active."""
        self._pending = _Pending(options, follow_up=False)
        self._new_turn()
        self._user_speaking = False  # the application decided the turn is over
        return self._maybe_create()

    def _new_turn(self, fresh: bool = True) -> None:
        self.rounds_this_turn = 0
        if fresh:
            self.handoffs_this_turn = 0
            self.recoveries_this_turn = 0

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

    def stop_response(self, recovery: ResponseOptions | None = None) -> list[Action]:
        """A guardrail stopped the assistant's words: cancel the active response (the one that
        tripped, or the one that followed it this turn), truncate what the user has not heard,
        and ask for ``recovery`` once the cancelled response has ended (queued like any
        request, so it never races the cancellation). Not a new user turn; while the user
        speaks no recovery is asked for, since their turn answers it."""
        actions: list[Action] = []
        if self.active_response_id is not None:
            actions.append(self.sent(ResponseCancel(response_id=self.active_response_id)))
        actions.extend(self._barge_in())
        if recovery is not None and not self._user_speaking:
            self.recoveries_this_turn += 1
            self._pending = _Pending(recovery, follow_up=False)
            actions.extend(self._maybe_create())
        return actions

    @property
    def speaking(self) -> bool:
        """Whether the user is speaking, as the service's turn detection reported."""
        return self._user_speaking

    def report_playback(self, item_id: str, played_ms: int) -> None:
        """The application tells how much of an audio item the user has heard so far."""
        self._playback.report(item_id, played_ms)

    def aside(self, options: ResponseOptions) -> list[Action]:
        """An out-of-band response (``conversation: "none"``, marked with ``ASIDE_KEY`` in its
        metadata): asked for at once, even while a response is active, since it neither reads
        into nor writes to the conversation's turn-taking."""
        return [self.sent(response_create(options))]

    def progress(self, message: str) -> list[Action]:
        """A running tool reported progress: let the model say so, if nothing else is speaking.

        The progress response is not a tool round; the follow-up still waits for the outputs.
        """
        if self._busy() or self._pending or not self.connected:
            return []  # with no socket, a request would be lost with the outbox it waits in
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
                unacked = self._unacked_items
                unacked[event.item["id"]] = event.item
                if len(unacked) > _UNACKED_MEMORY:
                    del unacked[next(iter(unacked))]
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
        for round_ in self._rounds:
            if call.call_id in round_.call_ids:
                round_.call_ids.discard(call.call_id)
                round_.respond = round_.respond or call.result.respond
        if not call.in_conversation:
            # Its function_call did not come back with the conversation after a reconnect:
            # the service would reject an output for a call it does not have.
            self._forget(call.call_id)
            return []
        unacked = self._unacked_outputs
        unacked[call.call_id] = None
        if len(unacked) > _UNACKED_MEMORY:
            self._forget(next(iter(unacked)), acknowledged=False)
        return [self.sent(_reply(call))]

    def approval_decided(self, request_id: str, approval: Approval) -> list[Action]:
        """The approval hook decided a hosted MCP tool's ``mcp_approval_request``: answer it
        once its response has ended, then ask for the response that acts on it."""
        call = self.calls.get(request_id)
        if type(call) is not ApprovalCall or call.result is not None:
            return []
        call.result = hosted_mcp.decision(approval)
        actions: list[Action] = [hosted_mcp.answered(call)]
        if call.response_id is None or call.response_done:
            actions.extend(self._post(call))
            actions.extend(self._maybe_create())
        return actions

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
        # A lost request keeps its options (a guardrail's recovery instructions, say).
        asked = self._sent.get(self._inflight_create or "") if lost is None else None
        self._inflight_create = None
        self._inflight_follow_up = None
        self._playback.clear()
        # The server's session went with the socket: nobody speaks, nothing is active there.
        self._user_speaking = False
        self._busy_elsewhere = False
        self.asides.clear()  # the session asks again for the asides still waiting
        call_ids = self._response_calls.pop(lost, []) if lost is not None else []
        if not self.regenerate_lost:
            lost = None  # the service keeps answering the call: nothing to ask for again
        regenerated = lost if not call_ids else None
        lost_items = [k for k, e in self.history.items() if lost_output(e, lost, regenerated)]
        for key in lost_items:
            self._log.drop(key)
        for call_id in call_ids:
            self.calls[call_id].response_done = True
        if call_ids:
            self._rounds.append(self._round_of(call_ids))
        elif (lost is not None or create_lost) and self._pending is None:
            options = asked if isinstance(asked, ResponseOptions) else None
            self._pending = _Pending(options, follow_up=False)

    def replay(self, max_items: int) -> Replay:
        """Client events that rebuild the conversation on a fresh session, oldest first.

        Assistant audio comes back as its transcript (audio cannot be injected); user audio comes
        back as its transcript when there is one, and is reported as lost otherwise. What is sent
        is valid whatever the old socket said: malformed items stay out, every output follows its
        call (the service rejects an output for a call it does not have), each item goes once.
        """
        entries = list(self.history.values())[-max_items:] if max_items > 0 else []
        skipped = len(self.history) - len(entries)
        plan = ReplayPlan()
        if skipped:
            plan.not_restored.append(f"{skipped} older items beyond the replay budget")
        for entry in entries:
            plan.add(entry)
        if any(e["has_audio"] and e["role"] == "assistant" for e in entries):
            plan.not_restored.append("assistant audio (restored as its transcript)")
        for call in self.calls.values():
            call.in_conversation = call.call_id in plan.calls
        for call_id in list(self._unacked_outputs):
            if call_id in plan.outputs:
                continue
            waiting = self.calls.get(call_id)
            if waiting is None or waiting.result is None or not waiting.in_conversation:
                self._forget(call_id, acknowledged=False)
                continue
            plan.outputs.add(call_id)
            plan.events.append(_reply(waiting))
        events = plan.events
        if events:
            events.append(resume_note())
        events.extend(
            ConversationItemCreate(item=item)
            for item_id, item in self._unacked_items.items()
            if item_id not in plan.item_ids
        )
        return Replay(tuple(events), restored=plan.restored, not_restored=tuple(plan.not_restored))

    def resumed(self) -> list[Action]:
        """The new socket is configured and restored: post what waited, ask for what was lost."""
        self.connected = True
        actions: list[Action] = []
        for call in list(self.calls.values()):  # _post forgets a call the replay left out
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

    def watched(self) -> bool:
        """Whether the state waits on the service, so that :meth:`check_stale` has work."""
        return (
            self.active_response_id is not None
            or self._inflight_create is not None
            or self._busy_elsewhere
            or (self._user_speaking and self._pending is not None)
        )

    def stale_in(self) -> float | None:
        """Seconds until the current wait on the service counts as stale (``None``: none)."""
        limit = self.stale_response_after
        if limit is None:
            return None
        if self.active_response_id is not None:
            since = self._active_touched
        elif self._inflight_create is not None:
            since = self._inflight_since
        elif self._busy_elsewhere:
            since = self._busy_since
        elif self._user_speaking and self._pending is not None:
            since = self._speech_since
        else:
            return None
        return max(0.0, since + limit - self.clock())

    def check_stale(self) -> list[Action]:
        """Stop waiting for something the service has said nothing about for too long.

        A lost ``response.done``, a stray ``response.created``, an unanswered
        ``response.create`` or a ``speech_started`` with no end would otherwise hold every
        later ``response.create`` forever. Asking again is safe: if a response really is
        active, the service answers ``conversation_already_has_active_response`` and the
        request waits for it.
        """
        remaining = self.stale_in()
        if remaining is None or remaining > 0:
            return []
        limit = self.stale_response_after
        actions: list[Action] = []
        if self.active_response_id is not None:
            stale, self.active_response_id = self.active_response_id, None
            message = f"no event for response {stale} in {limit:g} s; no longer waiting for it"
            actions.extend(self._settle_calls_of(stale))
        elif self._inflight_create is not None:
            self._inflight_create = None
            follow_up, self._inflight_follow_up = self._inflight_follow_up, None
            if follow_up is not None and self._pending is None:
                self._pending = follow_up  # the tools' outputs still need their answer
                self.rounds_this_turn -= 1
            message = f"no answer to response.create in {limit:g} s; no longer waiting for it"
        elif self._busy_elsewhere:
            self._busy_elsewhere = False
            message = f"the response the service reported active did not end in {limit:g} s"
        else:
            self._user_speaking = False
            message = f"speech started but did not stop in {limit:g} s; the follow-up goes now"
        return [
            Emit(ErrorOccurred, message=message, code="stale_response"),
            *actions,
            *self._maybe_create(),
        ]

    def _settle_calls_of(self, response_id: str) -> list[Action]:
        """A response that will never send ``response.done``: its calls form a round and
        their outputs are posted, as if it had completed."""
        call_ids = self._response_calls.pop(response_id, [])
        if not call_ids:
            return []
        for call_id in call_ids:
            self.calls[call_id].response_done = True
        self._rounds.append(self._round_of(call_ids))
        actions: list[Action] = []
        for call_id in call_ids:
            actions.extend(self._post(self.calls[call_id]))
        return actions

    def _on_audio_delta(self, event: ev.ResponseAudioDelta) -> list[Action]:
        if self.asides and event.response_id in self.asides:
            return []
        items = self._playback.items
        if items and items[-1].item_id == event.item_id:
            items[-1].received_ms += len(event.delta) * MS_PER_BASE64_CHAR
        else:
            item = self._playback.add(event.item_id or "")
            item.received_ms += len(event.delta) * MS_PER_BASE64_CHAR
        return []

    def _on_response_created(self, event: ev.ResponseCreated) -> list[Action]:
        if event.response.id is not None and event.response.id in self._finished_ids:
            return []  # a duplicate of a response that already ended
        aside = _aside_of(event.response)
        if aside is not None:
            self.asides[event.response.id or ""] = aside
            return []
        displaced = self.active_response_id
        if self._inflight_create is not None and self._inflight_capped:
            self._capped_response = event.response.id
        self.active_response_id = event.response.id
        self._active_touched = self.clock()
        self._inflight_create = None
        self._inflight_follow_up = None
        actions: list[Action] = []
        if displaced is not None and displaced != event.response.id:
            # The service never runs two responses: the displaced one will not end properly.
            actions.extend(self._settle_calls_of(displaced))
        pending = self._pending
        if pending is not None and pending.follow_up and not self._unacked_outputs:
            if not any(round_.call_ids for round_ in self._rounds):
                self._pending = None  # this response already sees every output
        actions.append(Emit(ResponseStarted, response_id=event.response.id))
        return actions

    def _forget(self, call_id: str, *, acknowledged: bool = True) -> None:
        """An answered call the server acknowledged needs only its id (long sessions stay small).

        A call outside any response (``response_id`` None) has no ``response.done`` to wait for.
        An output the server never acknowledged is forgotten too, past a bound, oldest first.
        """
        if not acknowledged:
            self._unacked_outputs.pop(call_id, None)
        call = self.calls.get(call_id)
        if call is not None and call.posted and (call.response_done or call.response_id is None):
            del self.calls[call_id]
            if self._answered is None:
                self._answered = OrderedDict()
            self._answered[call_id] = None
            if len(self._answered) > _ANSWERED_MEMORY:
                self._answered.popitem(last=False)

    def _on_output_item_added(self, event: ev.ResponseOutputItemAdded) -> list[Action]:
        if not (self.asides and event.response_id in self.asides):
            self._remember_item(event.item, response_id=event.response_id)
        return []

    def _on_output_item_done(self, event: ev.ResponseOutputItemDone) -> list[Action]:
        if self.asides and event.response_id in self.asides:
            return []  # an aside's items are not the conversation's, and its calls do not run
        item = event.item
        self._remember_item(item, response_id=event.response_id)
        if item.type != "function_call" or not item.call_id:
            if item.type[:4] == "mcp_":
                return hosted_mcp.item_done(self, item, event.response_id)
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
            actions = [_started(call), *self.call_finished(call_id, refusal)]
            if refusal.error_type == "round_limit" and not refusal.respond:
                message = (
                    f"the model called {call.name} again after the tool round limit "
                    f"({self.max_tool_rounds}) asked it to answer in words; no further "
                    "response is requested this turn"
                )
                actions.append(Emit(ErrorOccurred, message=message, code="round_limit"))
            return actions
        return [_started(call), StartCall(call)]

    def _refusal(self, call: Call) -> ToolResult | None:
        """A call answered without running: over the round cap, too large, or over budget."""
        if self.rounds_this_turn >= self.max_tool_rounds:
            message = "tool round limit reached for this turn; answer the user without tools"
            # The follow-up, with tool_choice "none", asks for the answer in words (a response
            # the service started by itself was not told). A call from a response that was told
            # asks nothing more: a model that keeps calling would loop forever.
            ask = call.response_id is None or call.response_id != self._capped_response
            return ToolResult.error(message, error_type="round_limit", respond=ask)
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
        aside = self.asides.pop(response_id, None) or _aside_of(response)
        if aside is not None:
            return [Emit(_aside_finished, aside, response)]
        if response_id == self.active_response_id:
            self.active_response_id = None
        self._busy_elsewhere = False
        actions = self._late_calls(response.output, response_id)
        call_ids = self._response_calls.pop(response_id, [])
        for call_id in call_ids:
            self.calls[call_id].response_done = True
        if call_ids and response.status in (None, "completed"):
            self._rounds.append(self._round_of(call_ids))
        elif call_ids and self.interrupt_policy == "cancel":
            running = tuple(c for c in call_ids if self.calls[c].result is None)
            if running:
                actions.append(CancelCalls(running, reason=response.status_reason or "cancelled"))
        for call_id in call_ids:
            actions.extend(self._post(self.calls[call_id]))
        actions.append(Emit(_response_finished, response))
        actions.extend(self._maybe_create())
        return actions

    def _late_calls(self, output: tuple[ev.Item, ...], response_id: str) -> list[Action]:
        """Remember the response's items; a call (or an approval request) it lists that no
        ``response.output_item.done`` announced starts now."""
        actions: list[Action] = []
        for item in output:
            self._remember_item(item)
            if item.type == "function_call" and item.call_id and item.call_id not in self.calls:
                actions.extend(self._new_call(item, response_id))
            elif item.type == "mcp_approval_request" and item.id not in self.calls:
                actions.extend(hosted_mcp.approval_requested(self, item, response_id))
        return actions

    def _round_of(self, call_ids: list[str]) -> _Round:
        """The round a response's calls form; a round with a call cut off by the user's
        interruption asks for no follow-up (the user speaks next)."""
        calls = self.calls
        waiting = {c for c in call_ids if not calls[c].posted}
        interrupted = any(calls[c].interrupted for c in call_ids)
        round_ = _Round(waiting, interrupted=interrupted)
        if interrupted:
            round_.respond = False
        return round_

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
        return [self._create(pending.options, pending)]

    def _create(self, options: ResponseOptions | None, pending: _Pending | None = None) -> Send:
        event = response_create(options)
        self._inflight_create = event.event_id  # the id only: it may wait a while for its answer
        self._inflight_since = self.clock()
        self._inflight_follow_up = pending if pending is not None and pending.follow_up else None
        self._inflight_capped = options is not None and options.tool_choice == "none"
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
            self._inflight_follow_up = None
        was_create = isinstance(cause, ResponseOptions) or cause == "response.create"
        if isinstance(cause, ResponseOptions) and cause.conversation == "none":
            was_create = False  # an aside: its caller hears of the error and fails
        if cause == "response.cancel" and error.code == _CANCEL_NOT_ACTIVE:
            return []  # benign race: the response ended before our response.cancel reached it
        if was_create and error.code == _ALREADY_ACTIVE:
            # Benign race (often server VAD starting a response): ask again after it ends,
            # even if its response.created has not reached us yet.
            self._busy_elsewhere = self.active_response_id is None
            self._busy_since = self.clock()
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
        user = item.type == "message" and item.role == "user"
        fresh = user and not self._seen(item.id)  # not a replay after a reconnect
        self._remember_item(item, after=event.previous_item_id)
        if item.id is not None:
            self._unacked_items.pop(item.id, None)
        if item.type == "function_call_output" and item.call_id:
            self._unacked_outputs.pop(item.call_id, None)
            self._forget(item.call_id)
        elif user:
            self._new_turn(fresh)
        elif item.type == "mcp_approval_response" and item.approval_request_id:
            self._unacked_outputs.pop(item.approval_request_id, None)
            self._forget(item.approval_request_id)
        return []

    def _seen(self, item_id: str | None) -> bool:
        """Whether the item is known already, recorded or not (the history is not forced)."""
        if item_id in self._log.entries:
            return True
        return any(item.id == item_id for item, _, _ in self._unrecorded or ())

    def _on_item_done(self, event: ev.ConversationItemDone) -> list[Action]:
        self._remember_item(event.item)
        return []

    def _on_committed(self, event: ev.InputAudioBufferCommitted) -> list[Action]:
        self._new_turn()
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
        if event.item_id in self.history:
            self._log.drop(event.item_id)
        return []

    def _on_truncated(self, event: ev.ConversationItemTruncated) -> list[Action]:
        """The service dropped the unheard audio and its transcript: so does the history, as
        far as the share that was heard tells (a replay must not say what nobody heard)."""
        entry = self.history.get(event.item_id)
        heard = self._heard.pop(event.item_id, None)
        if entry is not None:
            entry["truncated"] = True
            if heard is not None:
                self._log.set_text(event.item_id, heard_part(entry["text"], heard))
        return []

    def _on_user_transcript(self, event: ev.InputAudioTranscriptionCompleted) -> list[Action]:
        if event.item_id in self.history:
            self._log.set_text(event.item_id, event.transcript)
        return []

    def _on_speech_started(self, event: ev.InputAudioBufferSpeechStarted) -> list[Action]:
        if not self.server_vad:
            return []  # without turn detection the service detects no speech: noise
        self._user_speaking = True
        self._speech_since = self.clock()
        nothing_playing = not self._playback.items
        if self.active_response_id is None and nothing_playing and not self._cancellable():
            return []
        actions: list[Action] = []
        if not self.auto_interrupt and self.active_response_id is not None:
            actions.append(self.sent(ResponseCancel(response_id=self.active_response_id)))
        actions.extend(self._barge_in())
        return actions

    def _barge_in(self) -> list[Action]:
        response_id = self.active_response_id
        # conversation.item.truncate: drop the audio (and its transcript) the user never heard,
        # from the item playing now and every item queued behind it.
        cuts = self._playback.cut()
        actions: list[Action] = []
        for cut_id, cut_ms, audio_ms in cuts:
            actions.append(self.sent(ConversationItemTruncate(item_id=cut_id, audio_end_ms=cut_ms)))
            self._heard[cut_id] = cut_ms / audio_ms if audio_ms else 0.0
            if len(self._heard) > _SENT_MEMORY:
                del self._heard[next(iter(self._heard))]
        item_id, end_ms = cuts[0][:2] if cuts else (None, None)
        running = self._cancellable()
        if end_ms is None and response_id is None and not running:
            return actions  # nothing was playing, answering or running: nothing to interrupt
        if running:
            actions.append(CancelCalls(running, reason="interrupted"))
            for call_id in running:
                self.calls[call_id].interrupted = True
            for round_ in self._rounds:
                round_.interrupted = round_.interrupted or bool(round_.call_ids & set(running))
        actions.append(
            Emit(Interrupted, response_id=response_id, item_id=item_id, audio_end_ms=end_ms)
        )
        return actions

    def _cancellable(self) -> tuple[str, ...]:
        """Running calls that a barge-in cancels (only under the "cancel" policy)."""
        if self.interrupt_policy != "cancel":
            return ()
        return tuple(call.call_id for call in self.calls.values() if call.result is None)

    @property
    def history(self) -> OrderedDict[str, Entry]:
        """The conversation as the session sees it, by item id, oldest first."""
        if self._unrecorded:
            self.record_history()
        return self._log.entries

    def record_history(self) -> None:
        """Record the items seen since the last call. The session calls this after writing its
        replies (keeping a history is bookkeeping the service does not wait for); reading
        :attr:`history` calls it first, so no reader sees it behind."""
        pending, self._unrecorded = self._unrecorded, None
        record = self._log.record
        for item, after, response_id in pending or ():
            record(item, after, response_id)

    def _remember_item(
        self, item: ev.Item, after: str | None = None, response_id: str | None = None
    ) -> None:
        pending = self._unrecorded
        if pending is None:
            self._unrecorded = [(item, after, response_id)]
        else:
            pending.append((item, after, response_id))

    def history_items(self) -> list[HistoryItem]:
        """The history as immutable :class:`HistoryItem` views, oldest first."""
        return [HistoryItem(**entry) for entry in self.history.values()]


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
    **hosted_mcp.HANDLERS,
}


def _reply(call: Call) -> ConversationItemCreate:
    """What answers a call: its output, or for a hosted MCP request the approval response."""
    if type(call) is ApprovalCall:
        return call.reply()
    assert call.result is not None
    return function_call_output(call.call_id, call.result.output)


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
    # Several messages (a preamble, then more words) read as separate lines.
    text = "\n".join(item.text for item in response.output if item.type == "message" and item.text)
    return ResponseFinished(
        response_id=response.id,
        status=response.status,
        reason=response.status_reason,
        usage=response.usage,
        text=text,
    )


ASIDE_KEY = "agentkit_aside"
"""The ``metadata`` key that marks a response as an aside, with the aside's id as its value."""


def _aside_of(response: ev.Response) -> str | None:
    metadata = response.metadata
    if not metadata:
        return None
    aside = metadata.get(ASIDE_KEY)
    return aside if isinstance(aside, str) else None


def _aside_finished(aside_id: str, response: ev.Response) -> AsideFinished:
    text = "\n".join(item.text for item in response.output if item.type == "message" and item.text)
    return AsideFinished(
        aside_id=aside_id,
        response_id=response.id,
        status=response.status,
        reason=response.status_reason,
        usage=response.usage,
        text=text,
        metadata={k: v for k, v in (response.metadata or {}).items() if k != ASIDE_KEY},
    )


def _is_input(item: dict[str, Any]) -> bool:
    """Items the application adds (user and system messages) that must survive a reconnect.
    A resume note is not one: each restore writes its own."""
    if item.get("type") != "message" or item.get("role") not in ("user", "system"):
        return False
    item_id = item.get("id")
    return isinstance(item_id, str) and not item_id.startswith(RESUME_ITEM_PREFIX)
