"""Scripted "models": what the simulator answers, written as a short fluent chain.

A :class:`Scenario` is a list of turns. A turn matches the user's latest input and answers in
steps: each step is one response (text and/or one or several tool calls); the next step runs when
the client has sent the outputs of the previous step's calls and asked for a new response::

    scenario = (
        Scenario()
        .on("weather")                                   # words, regex or callable
        .say("Let me check.")                            # spoken before the call, same response
        .call("get_weather", city="Oslo")                # several .call()s = parallel calls
        .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees.")  # after the outputs
        .on_audio().say("I heard you.")
        .otherwise("Sorry, I only talk about the weather.")
    )

The scenario object is immutable in use: each connection gets its own :class:`ScenarioRunner`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeAlias

from agentkit.testing.ids import IdFactory

logger = logging.getLogger("agentkit.testing")

__all__ = [
    "PlannedCall",
    "PlannedText",
    "Scenario",
    "ScenarioRunner",
    "ToolOutput",
    "ToolOutputs",
    "Turn",
    "UserInput",
    "word_pattern",
]

Matcher: TypeAlias = "str | re.Pattern[str] | Callable[[str], bool]"
TextSpec: TypeAlias = "str | Callable[[ToolOutputs], str]"
ArgumentsSpec: TypeAlias = (
    "Mapping[str, Any] | str | Callable[[ToolOutputs], Mapping[str, Any]] | None"
)


@dataclass(frozen=True)
class ToolOutput:
    """One ``function_call_output`` the client returned for a scripted call, or the outcome of
    a hosted MCP call (``output`` is the server's answer, or the service's error message, or
    for a denied request the denial's reason, with ``approved`` False)."""

    name: str
    call_id: str
    arguments: str
    output: str
    approved: bool | None = None

    @property
    def value(self) -> Any:
        """The output parsed as JSON, or the raw string when it is not JSON."""
        try:
            return json.loads(self.output)
        except ValueError:
            return self.output


@dataclass
class ToolOutputs(Mapping[str, Any]):
    """What a text or argument callable receives: the tool outputs of this turn so far.

    ``outputs["get_weather"]`` is the parsed output of the latest ``get_weather`` call;
    ``outputs.all`` lists every :class:`ToolOutput` in order; ``outputs.user_text`` is the
    user's input that started the turn.
    """

    user_text: str = ""
    all: list[ToolOutput] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        for output in reversed(self.all):
            if output.name == name:
                return output.value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(output.name for output in self.all))

    def __len__(self) -> int:
        return len(set(output.name for output in self.all))

    def raw(self, name: str) -> str:
        """The unparsed output string of the latest call to ``name``."""
        return next(o.output for o in reversed(self.all) if o.name == name)


@dataclass(frozen=True)
class UserInput:
    """The latest user message, as a scenario sees it."""

    item_id: str
    text: str
    is_audio: bool


@dataclass(frozen=True)
class PlannedText:
    """The model says ``text`` (as audio + transcript, or as text, per the modality)."""

    text: str


@dataclass(frozen=True)
class PlannedCall:
    """The model calls ``name`` with JSON ``arguments``.

    With ``server_label`` it is a hosted MCP tool the service calls itself: ``call_id`` is then
    the ``mcp_call`` item's id, or, while ``needs_approval``, the approval request's.
    """

    name: str
    arguments: str
    call_id: str
    server_label: str | None = None
    needs_approval: bool = False
    approval_request_id: str | None = None


Planned: TypeAlias = "PlannedText | PlannedCall"


@dataclass
class _Call:
    name: str
    arguments: ArgumentsSpec


@dataclass
class _Step:
    """One response: an opening message, calls, and messages after the calls."""

    text: TextSpec | None = None
    calls: list[_Call] = field(default_factory=list)
    after: list[TextSpec] = field(default_factory=list)


class Turn:
    """A builder for one turn; every method returns a builder so the chain reads as a script."""

    def __init__(self, scenario: Scenario, matcher: Callable[[UserInput], bool]) -> None:
        self._scenario = scenario
        self.matches = matcher
        self.steps: list[_Step] = [_Step()]
        self._closed = False

    def say(self, text: TextSpec) -> Turn:
        """Answer with ``text``; a callable gets the :class:`ToolOutputs` received so far.

        After a ``.call()``, ``say`` starts the next step: it answers once the outputs are back
        (:meth:`and_say` adds a message to the same response instead).
        """
        step = self.steps[-1]
        if step.calls or step.text is not None or step.after or self._closed:
            self.steps.append(step := _Step())
            self._closed = False
        step.text = text
        return self

    def call(self, name: str, arguments: ArgumentsSpec = None, /, **kwargs: Any) -> Turn:
        """Call tool ``name`` in this step; call again for several calls in one response.

        ``arguments`` is a mapping, a JSON string, or a callable receiving :class:`ToolOutputs`
        (for chained calls); keyword arguments are a shortcut for a mapping.
        """
        if self._closed or self.steps[-1].after:
            self.steps.append(_Step())
            self._closed = False
        self.steps[-1].calls.append(_Call(name, kwargs if arguments is None else arguments))
        return self

    def and_say(self, text: TextSpec) -> Turn:
        """Say ``text`` as another message of the same response, after what it holds so far.

        ``.say("Let me check.").call("a").call("b").and_say("Both are on their way.")`` is one
        response of a message, two calls and a message, as today's models speak (a preamble,
        the calls, more words); ``.say("One.").and_say("Two.")`` is two messages and no call.
        """
        step = self.steps[-1]
        if self._closed or (step.text is None and not step.calls):
            return self.say(text)
        step.after.append(text)
        return self

    def then(self) -> Turn:
        """End the current step: what follows answers the next response (chained calls)."""
        self._closed = True
        return self

    def on(self, match: Matcher) -> Turn:
        """Start the scenario's next turn (see :meth:`Scenario.on`)."""
        return self._scenario.on(match)

    def on_audio(self) -> Turn:
        """Start a turn matching any audio input (see :meth:`Scenario.on_audio`)."""
        return self._scenario.on_audio()

    def on_any(self) -> Turn:
        """Start a turn matching any input (see :meth:`Scenario.on_any`)."""
        return self._scenario.on_any()

    def otherwise(self, reply: str | Callable[[str], str]) -> Scenario:
        """Set the answer to unscripted input (see :meth:`Scenario.otherwise`)."""
        return self._scenario.otherwise(reply)

    @property
    def scenario(self) -> Scenario:
        """The scenario this turn belongs to (a chain may end on a turn)."""
        return self._scenario

    def runner(self) -> ScenarioRunner:
        """Fresh per-connection progress through the whole scenario."""
        return self._scenario.runner()


def word_pattern(words: str) -> re.Pattern[str]:
    """The regex ``.on(words)`` uses: ``words`` as whole words, case-insensitive.

    ``"lock"`` matches "Lock the door" and "lock." but not "block" or "locker"; ``"new york"``
    matches "New York" and "new   york". Edges are word boundaries only where ``words`` starts
    or ends with a word character, so ``"A-1002"`` and ``"?"`` match as written.
    """
    stripped = words.strip()
    if not stripped:
        raise ValueError("Scenario.on() needs some words; use .on_any() to match any input")
    body = r"\s+".join(re.escape(part) for part in stripped.split())
    start = r"(?<!\w)" if re.match(r"\w", stripped) else ""
    end = r"(?!\w)" if re.search(r"\w$", stripped) else ""
    return re.compile(start + body + end, re.IGNORECASE)


def _text_matcher(match: Matcher) -> Callable[[UserInput], bool]:
    if isinstance(match, str):
        match = word_pattern(match)
    if isinstance(match, re.Pattern):
        pattern = match
        return lambda user: pattern.search(user.text) is not None
    if not callable(match):
        raise TypeError(
            f"Scenario.on() takes words (str), a compiled regex or a predicate of the text, "
            f"not {type(match).__name__}"
        )
    predicate = match
    return lambda user: bool(predicate(user.text))


def _default_reply(text: str) -> str:
    if not text:
        return "[simulator] No scripted answer for this input."
    return f"[simulator] No scripted answer for: {text!r}."


class Scenario:
    """An ordered list of turns; the first turn whose matcher accepts the input answers it.

    Args:
        strict_tools: when true (the default) a scripted call to a tool the client did not
            declare (session or response ``tools``) is not made; the simulator says so in text.
        heard: what the simulated recogniser hears in committed audio, when the client turned
            input transcription on: one utterance per user turn in order, or a callable of the
            audio's length in ms. The transcript also lets ``.on("text")`` turns match speech.
    """

    def __init__(
        self, *, strict_tools: bool = True, heard: Sequence[str] | Callable[[int], str] = ()
    ) -> None:
        self.turns: list[Turn] = []
        self.strict_tools = strict_tools
        self.default: Callable[[str], str] = _default_reply
        self.heard = heard

    def transcript(self, index: int, audio_ms: int) -> str:
        """What the simulated speech recogniser hears when ``index`` user turns came before.

        ``heard`` is a list of utterances, one per user turn in order (the last one repeats), or
        a callable of the audio's length in milliseconds; without it, a placeholder naming the
        length.
        """
        if callable(self.heard):
            return self.heard(audio_ms)
        if self.heard:
            return self.heard[min(index, len(self.heard) - 1)]
        return f"[{audio_ms} ms of speech]"

    def on(self, match: Matcher) -> Turn:
        """A turn for user input that ``match`` accepts; audio matches on its transcript.

        ``match`` is one of three explicit kinds:

        - words (``str``): the words appear whole, case-insensitive (see :func:`word_pattern`):
          ``.on("lock")`` answers "lock the door", not "block the door";
        - a compiled regex (``re.compile(...)``): ``pattern.search(text)`` finds it; use
          ``re.compile("lock", re.I)`` for a plain substring;
        - a callable: ``match(text)`` is true.

        Turns are tried in the order they were added; the first that matches answers.
        """
        return self._add(Turn(self, _text_matcher(match)))

    def on_audio(self) -> Turn:
        """A turn for any audio input (a committed buffer or an ``input_audio`` item)."""
        return self._add(Turn(self, lambda user: user.is_audio))

    def on_any(self) -> Turn:
        """A turn for any input at all."""
        return self._add(Turn(self, lambda user: True))

    def otherwise(self, reply: str | Callable[[str], str]) -> Scenario:
        """The answer to unscripted input: fixed text, or a callable of the user's text."""
        self.default = (lambda _text: reply) if isinstance(reply, str) else reply
        return self

    @property
    def scenario(self) -> Scenario:
        """This scenario (so a chain ending on a :class:`Turn` or a :class:`Scenario` both work)."""
        return self

    def runner(self) -> ScenarioRunner:
        """Fresh per-connection progress through this scenario."""
        return ScenarioRunner(self)

    def _add(self, turn: Turn) -> Turn:
        self.turns.append(turn)
        return turn


PROGRESS_TEXT = "One moment, I'm still working on it."
"""What the simulated model says when asked to speak while its tool calls are still running."""


class ScenarioRunner:
    """Where one connection is in its scenario; decides each response's output (sans-I/O)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._turn: Turn | None = None
        self._step = 0
        self._trigger: str | None = None
        self._outputs = ToolOutputs()
        self._pending: dict[str, PlannedCall] = {}
        self._consumed: set[str] = set()
        self._skip: set[str] = set()
        self._text_said = False

    def plan(
        self, items: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]], ids: IdFactory
    ) -> list[Planned]:
        """The output of the next response, given the context ``items`` and declared ``tools``.

        A scenario callable that raises (a ``KeyError`` on a tool output, say) is answered in
        text naming the error, so a broken script fails the test visibly instead of hanging it.
        """
        try:
            return self._plan(items, tools, ids)
        except Exception as exc:
            logger.exception("the scenario raised while planning a response")
            return [PlannedText(f"[simulator] the scenario raised {type(exc).__name__}: {exc}")]

    def _plan(
        self, items: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]], ids: IdFactory
    ) -> list[Planned]:
        answered = _answered_approvals(items, self._consumed)
        if answered:
            user = latest_user_input(items)
            if user is not None and user.item_id != self._trigger:
                self._start_turn(user, items, tools)  # a new connection takes the turn up
            return self._after_approvals(answered, tools, ids)
        if self._collect_outputs(items):
            return self._follow_up(tools, ids)
        if not tools and self._unanswered():
            # Asked to speak, without tools, while its calls still run: a progress update.
            return [PlannedText(PROGRESS_TEXT)]
        user = latest_user_input(items)
        if user is None:
            return [PlannedText(self.scenario.default(""))]
        if user.item_id != self._trigger and self._start_turn(user, items, tools):
            return self._follow_up(tools, ids)
        if self._turn is None:
            return [PlannedText(self.scenario.default(user.text))]
        # Asked again without new input: move on to the next step, unless calls await outputs.
        if self._step < 0 or not self._unanswered():
            self._step = min(self._step + 1, len(self._turn.steps) - 1)
        return self._run_step(tools, ids)

    def _unanswered(self) -> bool:
        return any(call_id not in self._consumed for call_id in self._pending)

    def _start_turn(
        self,
        user: UserInput,
        items: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
    ) -> bool:
        """Begin answering ``user``; ``True`` when the turn resumes right after tool outputs."""
        self._trigger = user.item_id
        self._turn = next((t for t in self.scenario.turns if t.matches(user)), None)
        self._step = -1
        self._outputs = ToolOutputs(user_text=user.text)
        self._pending.clear()
        self._skip = set()
        self._text_said = False
        if self._turn is None:
            return False
        return self._resume(self._turn, _after_latest_user(items), tools)

    def _resume(
        self,
        turn: Turn,
        tail: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
    ) -> bool:
        """Take up a turn part-way through, as a model reading the conversation would.

        A fresh runner (a new connection, say, after the client replayed its history) derives
        how many steps are already answered from the items after the latest user input: a step
        with calls is answered when its calls (matched by name, in order) are present with
        their outputs (a call without its output counts as never made); a text-only step when
        an assistant message follows the previous step. The next response runs the first
        unanswered step; of a step only partly in the conversation, the missing calls are
        issued again. ``True`` when the latest answered step's outputs
        are the last thing in the conversation (the next response follows up on them).
        """
        outputs = {
            str(item.get("call_id")): str(item.get("output", ""))
            for item in tail
            if item.get("type") == "function_call_output"
        }
        outputs.update(_hosted_outcomes(tail))
        self._outputs.all.extend(_outputs_in(tail))
        # A call answered in the conversation was made, whether or not its tool is declared
        # now (a hand-off changes the tools between steps).
        declared = {tool.get("name") for tool in tools} | {
            item.get("name")
            for item in tail
            if item.get("type") in _CALL_TYPES and str(_call_key(item)) in outputs
        }
        cursor = 0
        after_outputs = False
        for index, step in enumerate(turn.steps):
            names = [
                call.name
                for call in step.calls
                if call.name in declared or not self.scenario.strict_tools
            ]
            if not names:
                found = _find(tail, cursor, _is_assistant_message)
                if found is None:
                    return False
                cursor = _past_messages(tail, found + 1, len(step.after))
                self._step = index
                after_outputs = False
                continue
            said = step.text is not None and _is_at(tail, cursor, _is_assistant_message)
            if said:
                cursor += 1  # the step's words reached the conversation before its calls
            matched: list[Mapping[str, Any]] = []
            for name in names:
                found = _find(
                    tail,
                    cursor,
                    partial(_is_answered_call, name, outputs),
                )
                if found is None:
                    break
                matched.append(tail[found])
                cursor = found + 1
            if len(matched) < len(names):
                # Part of the response reached the conversation: issue only the rest.
                self._skip = {str(call.get("name")) for call in matched}
                self._text_said = said
                return after_outputs and not matched and not said
            self._step = index
            cursor = _past_messages(tail, cursor, len(step.after))
            after_outputs = _find(tail, cursor, _is_assistant_message) is None
        return after_outputs

    def _after_approvals(
        self,
        answered: list[tuple[Mapping[str, Any], Mapping[str, Any]]],
        tools: Sequence[Mapping[str, Any]],
        ids: IdFactory,
    ) -> list[Planned]:
        """The client answered approval requests: make the approved calls now (the words after
        them follow their outputs, in the same response); a denial is the call's outcome."""
        calls: list[Planned] = []
        for request, answer in answered:
            request_id = str(request.get("id"))
            self._consumed.add(request_id)
            name, arguments = str(request.get("name", "")), str(request.get("arguments", ""))
            if answer.get("approve") is True:
                planned = PlannedCall(
                    name,
                    arguments,
                    ids.new("mcp"),
                    server_label=str(request.get("server_label", "")),
                    approval_request_id=request_id,
                )
                self._pending[planned.call_id] = planned
                calls.append(planned)
            else:
                reason = str(answer.get("reason") or "")
                self._outputs.all.append(ToolOutput(name, request_id, arguments, reason, False))
        if calls or self._unanswered():
            return calls or [PlannedText("[simulator] Waiting for the other calls.")]
        return self._follow_up(tools, ids)

    def hosted_call_done(
        self,
        call: PlannedCall,
        output: str | None,
        error: Mapping[str, Any] | None,
        tools: Sequence[Mapping[str, Any]],
        ids: IdFactory,
    ) -> list[Planned]:
        """The service finished a hosted call in a response: what the model says next, in the
        same response (nothing while other calls of its step still wait for their outputs)."""
        text = output if output is not None else str((error or {}).get("message", ""))
        approved = True if call.approval_request_id else None
        self._outputs.all.append(
            ToolOutput(call.name, call.call_id, call.arguments, text, approved)
        )
        self._consumed.add(call.call_id)
        if self._unanswered():
            return []
        try:
            return self._follow_up(tools, ids)
        except Exception as exc:
            logger.exception("the scenario raised while planning a response")
            return [PlannedText(f"[simulator] the scenario raised {type(exc).__name__}: {exc}")]

    def _collect_outputs(self, items: Sequence[Mapping[str, Any]]) -> bool:
        fresh = False
        for item in items:
            call_id = item.get("call_id")
            if item.get("type") != "function_call_output" or call_id not in self._pending:
                continue
            if call_id in self._consumed:
                continue
            call = self._pending[call_id]
            self._outputs.all.append(
                ToolOutput(call.name, call.call_id, call.arguments, str(item.get("output", "")))
            )
            self._consumed.add(call_id)
            fresh = True
        return fresh

    def _follow_up(self, tools: Sequence[Mapping[str, Any]], ids: IdFactory) -> list[Planned]:
        if self._turn is None or self._step + 1 >= len(self._turn.steps):
            summary = "; ".join(f"{o.name}: {o.output}" for o in self._outputs.all)
            return [PlannedText(f"[simulator] Tool results received: {summary}")]
        self._step += 1
        return self._run_step(tools, ids)

    def _run_step(self, tools: Sequence[Mapping[str, Any]], ids: IdFactory) -> list[Planned]:
        assert self._turn is not None
        step = self._turn.steps[self._step]
        skip, self._skip = self._skip, set()
        text_said, self._text_said = self._text_said, False
        planned: list[Planned] = []
        if step.text is not None and not text_said:
            text = step.text(self._outputs) if callable(step.text) else step.text
            planned.append(PlannedText(text))
        declared = {tool.get("name") for tool in tools}
        for call in step.calls:
            if call.name in skip:
                skip.discard(call.name)
                continue
            if self.scenario.strict_tools and call.name not in declared:
                planned.append(
                    PlannedText(f"[simulator] Cannot call undeclared tool {call.name!r}.")
                )
                continue
            planned.append(self._planned_call(call, ids, tools))
        for spec in step.after:
            planned.append(PlannedText(spec(self._outputs) if callable(spec) else spec))
        return planned

    def _planned_call(
        self, call: _Call, ids: IdFactory, tools: Sequence[Mapping[str, Any]] = ()
    ) -> PlannedCall:
        arguments = call.arguments(self._outputs) if callable(call.arguments) else call.arguments
        text = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}))
        hosted = _hosted_tool(call.name, tools)
        if hosted is None:
            planned = PlannedCall(call.name, text, ids.new("call"))
        else:  # the service calls it; with approval, it asks the client first
            approval = bool(hosted.get("approval"))
            planned = PlannedCall(
                call.name,
                text,
                ids.new("mcpr" if approval else "mcp"),
                server_label=str(hosted.get("server_label")),
                needs_approval=approval,
            )
        self._pending[planned.call_id] = planned
        return planned


def _after_latest_user(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if item.get("type") == "message" and item.get("role") == "user":
            return list(items[index + 1 :])
    return []


_CALL_TYPES = frozenset(("function_call", "mcp_call", "mcp_approval_request"))


def _call_key(item: Mapping[str, Any]) -> Any:
    """What answers a call item: a function call's ``call_id``; a hosted call's own id."""
    return item.get("call_id") if item.get("type") == "function_call" else item.get("id")


def _hosted_tool(name: str, tools: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The hosted MCP tool ``name`` names, unless a function tool of the client has the name."""
    if any(t.get("name") == name and t.get("type", "function") == "function" for t in tools):
        return None
    return next((t for t in tools if t.get("type") == "mcp" and t.get("name") == name), None)


def _hosted_outcomes(tail: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Hosted calls that came to an outcome, by item id: an ``mcp_call`` with its output or
    error, an approval request the client answered (denied: its reason)."""
    found: dict[str, str] = {}
    for item in tail:
        if item.get("type") == "mcp_call" and (item.get("output") or item.get("error")):
            error = item.get("error") or {}
            output = item.get("output")
            found[str(item.get("id"))] = str(output if output is not None else error.get("message"))
        elif item.get("type") == "mcp_approval_response":
            found[str(item.get("approval_request_id"))] = str(item.get("reason") or "")
    return found


def _answered_approvals(
    items: Sequence[Mapping[str, Any]], handled: set[str]
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Approval requests answered by the client and not acted on yet (no ``mcp_call`` made for
    them, and not handled on this connection), with their answers, in order."""
    requests = {str(i.get("id")): i for i in items if i.get("type") == "mcp_approval_request"}
    called = {str(i.get("approval_request_id")) for i in items if i.get("type") == "mcp_call"}
    found = []
    for item in items:
        request_id = str(item.get("approval_request_id"))
        if item.get("type") != "mcp_approval_response" or request_id not in requests:
            continue
        if request_id in called or request_id in handled:
            continue
        found.append((requests[request_id], item))
    return found


def _outputs_in(tail: Sequence[Mapping[str, Any]]) -> list[ToolOutput]:
    calls = {str(item.get("call_id")): item for item in tail if item.get("type") == "function_call"}
    found: list[ToolOutput] = []
    for item in tail:
        if item.get("type") == "mcp_call" and (item.get("output") or item.get("error")):
            text = _hosted_outcomes([item])[str(item.get("id"))]
            found.append(
                ToolOutput(
                    str(item.get("name", "")),
                    str(item.get("id")),
                    str(item.get("arguments", "")),
                    text,
                    True if item.get("approval_request_id") else None,
                )
            )
            continue
        call = calls.get(str(item.get("call_id")))
        if item.get("type") == "function_call_output" and call is not None:
            found.append(
                ToolOutput(
                    str(call.get("name", "")),
                    str(call.get("call_id")),
                    str(call.get("arguments", "")),
                    str(item.get("output", "")),
                )
            )
    return found


def _is_answered_call(name: str, outputs: Mapping[str, str], item: Mapping[str, Any]) -> bool:
    return (
        item.get("type") in _CALL_TYPES
        and item.get("name") == name
        and str(_call_key(item)) in outputs
    )


def _is_assistant_message(item: Mapping[str, Any]) -> bool:
    return item.get("type") == "message" and item.get("role") == "assistant"


def _past_messages(items: Sequence[Mapping[str, Any]], index: int, count: int) -> int:
    """The index past up to ``count`` assistant messages found at ``index`` on."""
    while count and _is_at(items, index, _is_assistant_message):
        index += 1
        count -= 1
    return index


def _is_at(
    items: Sequence[Mapping[str, Any]], index: int, predicate: Callable[[Mapping[str, Any]], bool]
) -> bool:
    return index < len(items) and predicate(items[index])


def _find(
    items: Sequence[Mapping[str, Any]], start: int, predicate: Callable[[Mapping[str, Any]], bool]
) -> int | None:
    return next((i for i in range(start, len(items)) if predicate(items[i])), None)


def latest_user_input(items: Sequence[Mapping[str, Any]]) -> UserInput | None:
    """The last user message among ``items``, with its text (or audio transcript)."""
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            return _user_input(item)
    return None


def _user_input(item: Mapping[str, Any]) -> UserInput:
    texts: list[str] = []
    is_audio = False
    for part in item.get("content") or []:
        if part.get("type") == "input_text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "input_audio":
            is_audio = True
            texts.append(str(part.get("transcript") or ""))
    return UserInput(str(item.get("id", "")), " ".join(t for t in texts if t), is_audio)
