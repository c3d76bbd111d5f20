"""Guardrails over real WebSockets against the simulator: an output guardrail tripping
mid-audio, a slow check that never holds up the stream, an input guardrail denying a call,
and each surviving a dropped socket in the middle."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agentkit import (
    Agent,
    GuardrailVerdict,
    SessionOptions,
    ToolCallRequest,
    input_guardrail,
    output_guardrail,
    tool,
)
from agentkit.events import (
    AudioDelta,
    ErrorOccurred,
    GuardrailTripped,
    Interrupted,
    ResponseFinished,
    ToolCallFinished,
)
from agentkit.guardrails import DEFAULT_RECOVERY
from agentkit.reconnect import ReconnectPolicy
from agentkit.testing import Scenario
from tests.dispatch.loopback import Live, live
from tests.support import TIMEOUT

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
LEAK = (
    "Sure. The account is in good standing and the balance is fine. "
    "The vault code is SECRET-1234 and the backup code is SECRET-5678, "
    "and I can read you the rest of the account notes if you like, one by one, slowly."
)
RECOVERED = "Sorry, I cannot share codes. Anything else?"
SCENARIO = Scenario().on("codes").say(LEAK).say(RECOVERED).scenario


@output_guardrail(every_chars=12)
async def no_secrets(text: str) -> GuardrailVerdict | None:
    if "SECRET" in text:
        return GuardrailVerdict.trip("a secret code", details={"rule": "codes"})
    return None


GUARDED = Agent(name="guarded", instructions="Be helpful.", output_guardrails=[no_secrets])


def _exchange(t: Live, index: int = -1) -> list[tuple[str, dict[str, Any]]]:
    return t.sim.connections[index].exchange


def _position(
    exchange: list[tuple[str, dict[str, Any]]], side: str, event_type: str, count: int = 1
) -> int:
    hits = [i for i, (who, e) in enumerate(exchange) if who == side and e["type"] == event_type]
    return hits[count - 1]


async def _recovered(t: Live) -> ResponseFinished:
    return await t.events.wait_for(ResponseFinished, lambda e: e.text == RECOVERED)


def _assert_recovery_after_the_cancelled_response(t: Live, connection: int = -1) -> None:
    """One cancel, then the recovery's response.create only after the cancelled response's
    response.done: the service never saw two responses wanted at once."""
    exchange = _exchange(t, connection)
    cancel = _position(exchange, "client", "response.cancel")
    done = next(
        i
        for i, (who, e) in enumerate(exchange)
        if who == "server"
        and e["type"] == "response.done"
        and e["response"]["status"] == "cancelled"
    )
    creates = [
        i
        for i, (who, e) in enumerate(exchange)
        if who == "client" and e["type"] == "response.create"
    ]
    recovery = [i for i in creates if i > cancel]
    assert len(recovery) == 1 and cancel < done < recovery[0]
    (_, event) = exchange[recovery[0]]
    assert "stopped by a content check" in event["response"]["instructions"]
    assert event["response"]["instructions"].startswith("Be helpful.")
    errors = [e for who, e in exchange if who == "server" and e["type"] == "error"]
    assert errors == []


async def test_an_output_guardrail_trips_mid_audio() -> None:
    async with live(SCENARIO, GUARDED, stream_delay=0.005) as t:
        await t.session.send_text("what are the codes?")
        final = await _recovered(t)
        (tripped,) = t.events.of(GuardrailTripped)
        assert (tripped.kind, tripped.guardrail) == ("output", "no_secrets")
        assert tripped.verdict.tripped and tripped.verdict.details == {"rule": "codes"}
        assert "SECRET" in tripped.text and "one by one" not in tripped.text
        assert tripped.recovering
        first = t.events.of(ResponseFinished)[0]
        assert first.response_id == tripped.response_id and first.status == "cancelled"
        assert t.events.of(Interrupted)[0].response_id == tripped.response_id
        truncate = t.client("conversation.item.truncate")
        assert len(truncate) == 1
        _assert_recovery_after_the_cancelled_response(t)
        assert final.status == "completed"
        said = [item for item in t.session.history if item.role == "assistant"]
        assert said[0].truncated and said[-1].text == RECOVERED
        assert t.events.of(ErrorOccurred) == []


async def test_a_slow_check_never_holds_up_the_audio() -> None:
    """A sync check that blocks until the test has seen more audio arrive: were it run on the
    event loop, no audio could arrive and the test would time out."""
    entered = threading.Event()
    release = threading.Event()

    def slow_secrets(text: str) -> GuardrailVerdict | None:
        if "SECRET" not in text:
            return None
        entered.set()
        release.wait(TIMEOUT)
        return GuardrailVerdict.trip("a secret code")

    agent = Agent(instructions="Be helpful.", output_guardrails=[slow_secrets])
    async with live(SCENARIO, agent, stream_delay=0.005) as t:
        await t.session.send_text("what are the codes?")
        await asyncio.wait_for(asyncio.to_thread(entered.wait, TIMEOUT), TIMEOUT)
        before = len(t.events.of(AudioDelta))
        await t.events.wait_for(AudioDelta, count=before + 3)
        release.set()
        await _recovered(t)
        (tripped,) = t.events.of(GuardrailTripped)
        assert tripped.guardrail == "slow_secrets"
        _assert_recovery_after_the_cancelled_response(t)


def _recoveries(t: Live) -> list[tuple[int, dict[str, Any]]]:
    """Every recovery request on the wire, with the connection it went on."""
    return [
        (index, e)
        for index, c in enumerate(t.sim.connections)
        for e in c.received.of_type("response.create")
        if "stopped by a content check" in (e.get("response") or {}).get("instructions", "")
    ]


async def test_an_output_guardrail_survives_a_drop_before_it_trips() -> None:
    """The socket drops mid-response, before the words the check trips on: the response is
    asked for again on the new socket, and the guardrail trips there, once."""
    options = SessionOptions(reconnect=FAST)
    async with live(SCENARIO, GUARDED, stream_delay=0.005, options=options) as t:
        t.sim.faults.drop_after_event("response.output_audio_transcript.delta", count=2, code=1011)
        await t.session.send_text("what are the codes?")
        await _recovered(t)
        assert len(t.sim.connections) == 2
        (tripped,) = t.events.of(GuardrailTripped)
        assert tripped.recovering
        assert [index for index, _ in _recoveries(t)] == [1]
        _assert_recovery_after_the_cancelled_response(t, 1)
        said = [item.text for item in t.session.history if item.role == "assistant"]
        assert said[-1] == RECOVERED and all("one by one" not in text for text in said)


async def test_a_recovery_lost_with_the_socket_is_asked_for_again_with_its_instructions() -> None:
    """The socket drops right after the cancelled response ended, taking the recovery's
    ``response.create`` with it: the new socket gets the request with the recovery
    instructions, and the replayed conversation holds what the user heard of the cut words
    (the cancelled response ended: the service keeps it), so the recovery answers."""
    options = SessionOptions(reconnect=FAST)
    async with live(SCENARIO, GUARDED, stream_delay=0.005, options=options) as t:
        t.sim.faults.drop_after_event("response.done", count=1, code=1011)
        await t.session.send_text("what are the codes?")
        recovered = await _recovered(t)
        assert recovered.status == "completed"
        (tripped,) = t.events.of(GuardrailTripped)
        assert tripped.recovering
        (create,) = [e for e in t.sim.connections[-1].received.of_type("response.create")]
        assert DEFAULT_RECOVERY in create["response"]["instructions"]
        said = [item.text for item in t.session.history if item.role == "assistant"]
        assert all("SECRET-5678" not in text for text in said)
        assert said[-1] == RECOVERED


runs: list[float] = []


@tool
def refund(amount_eur: float) -> str:
    """Refund the caller."""
    runs.append(amount_eur)
    return f"refunded {amount_eur}"


@input_guardrail(tools=["refund"])
def refunds_under_limit(request: ToolCallRequest) -> GuardrailVerdict | None:
    if '"amount_eur": 900' in request.arguments:
        return GuardrailVerdict.trip("refunds over 500 need a person", details={"limit": 500})
    return None


REFUNDS = Agent(name="refunds", tools=[refund], input_guardrails=[refunds_under_limit])
REFUND_SCENARIO = (
    Scenario()
    .on("refund")
    .call("refund", amount_eur=900)
    .say(lambda out: f"result: {out.raw('refund')}")
    .on("small")
    .call("refund", amount_eur=20)
    .say(lambda out: f"result: {out.raw('refund')}")
    .scenario
)


@pytest.mark.parametrize("drop", [False, True], ids=["steady", "dropped-socket"])
async def test_an_input_guardrail_denies_a_call(drop: bool) -> None:
    runs.clear()
    asked: list[str] = []

    def approve(request: ToolCallRequest) -> bool:
        asked.append(request.name)
        return True

    options = SessionOptions(approve=approve, reconnect=FAST)
    async with live(REFUND_SCENARIO, REFUNDS, options=options) as t:
        if drop:
            t.sim.faults.drop_after_event("response.done", count=1, code=1011)
        await t.session.send_text("refund 900")
        final = await t.events.wait_for(ResponseFinished, lambda e: e.text.startswith("result"))
        assert "refunds over 500 need a person" in final.text
        assert runs == [] and asked == []  # neither the approval hook nor the function ran
        (tripped,) = t.events.of(GuardrailTripped)
        assert (tripped.kind, tripped.tool_name) == ("input", "refund")
        assert tripped.verdict.details == {"limit": 500}
        (finished,) = t.events.of(ToolCallFinished)
        assert finished.error_type == "guardrail" and finished.call_id == tripped.call_id
        # One output per conversation: the last socket's holds it once (sent there, or
        # replayed there if it went out before the drop), and no socket got it twice.
        per_socket = [
            [
                e["item"]["call_id"]
                for e in c.received.of_type("conversation.item.create")
                if e["item"]["type"] == "function_call_output"
            ].count(tripped.call_id)
            for c in t.sim.connections
        ]
        assert per_socket[-1] == 1 and max(per_socket) == 1
        assert len(t.sim.connections) == (2 if drop else 1)

        await t.session.send_text("a small one, please")
        await t.events.wait_for(ResponseFinished, lambda e: "refunded 20" in e.text)
        assert runs == [20] and asked == ["refund"]


async def test_a_failing_input_check_refuses_and_a_failing_output_check_lets_words_pass() -> None:
    def broken(request: ToolCallRequest) -> GuardrailVerdict | None:
        raise RuntimeError("check offline")

    def broken_output(text: str) -> GuardrailVerdict | None:
        raise RuntimeError("classifier offline")

    agent = Agent(tools=[refund], input_guardrails=[broken], output_guardrails=[broken_output])
    runs.clear()
    async with live(REFUND_SCENARIO, agent) as t:
        await t.session.send_text("a small one, please")
        final = await t.events.wait_for(ResponseFinished, lambda e: e.text.startswith("result"))
        assert "the broken check failed" in final.text and runs == []
        (tripped,) = t.events.of(GuardrailTripped)
        assert tripped.kind == "input" and "check offline" in str(tripped.verdict.details)
        errors = await t.events.wait_for(ErrorOccurred, lambda e: e.code == "guardrail_error")
        assert "classifier offline" in errors.message


def test_a_check_must_return_a_verdict() -> None:
    guard = output_guardrail(lambda text: True)  # type: ignore[arg-type, return-value]

    async def run() -> None:
        await guard.run("words")

    with pytest.raises(TypeError, match="return a GuardrailVerdict"):
        asyncio.run(run())
    with pytest.raises(ValueError, match="every_chars"):
        output_guardrail(no_secrets.check, every_chars=0)
    with pytest.raises(TypeError, match="collection of tool names"):
        input_guardrail(tools="refund")
