"""Tool input from the model: too large, over budget, unknown, not allowed, or not approved.

In every case the model gets a short error output and the user's function never runs."""

from __future__ import annotations

import asyncio
import collections
import json

import pytest

from agentkit import Agent, SessionOptions, tool
from agentkit.approval import Approval, ToolCallRequest
from agentkit.testing import Scenario
from tests.robustness.helpers import ask, connected, tool_results

ran: collections.Counter[str] = collections.Counter()


@tool
def transfer(amount: int, to: str) -> str:
    """Move money."""
    ran["transfer"] += 1
    return f"sent {amount} to {to}"


@tool
def lookup(q: str) -> str:
    """Look something up."""
    ran["lookup"] += 1
    return "ok"


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran.clear()


def _error(output: str) -> dict[str, str]:
    error: dict[str, str] = json.loads(output)["error"]
    return error


async def test_oversized_arguments_are_refused_without_running_the_tool() -> None:
    scenario = Scenario().on("go").call("lookup", q="x" * 5_000).say("done")
    options = SessionOptions(max_argument_chars=1_000)
    async with connected(scenario, [lookup], options) as (_, session):
        events = await ask(session, "go")
    (result,) = tool_results(events)
    assert result.error_type == "invalid_arguments"
    assert "too large" in _error(result.output)["message"]
    assert ran["lookup"] == 0


async def test_calls_over_the_rate_budget_are_refused() -> None:
    scenario = (
        Scenario().on("go").call("lookup", q="a").call("lookup", q="b").call("lookup", q="c")
        .say("done")
    )  # fmt: skip
    options = SessionOptions(max_calls_per_minute=2)
    async with connected(scenario, [lookup], options) as (_, session):
        events = await ask(session, "go")
    kinds = sorted(str(r.error_type) for r in tool_results(events))
    assert kinds == ["None", "None", "rate_limited"]
    assert ran["lookup"] == 2


async def test_a_tool_that_is_not_declared_in_this_session_is_not_run() -> None:
    scenario = Scenario(strict_tools=False).on("go").call("transfer", amount=5, to="x").say("ok")
    async with connected(scenario, [lookup]) as (_, session):
        events = await ask(session, "go")
    (result,) = tool_results(events)
    assert result.error_type == "unknown_tool"
    assert "lookup" in _error(result.output)["message"]
    assert ran["transfer"] == 0


async def test_after_a_hand_off_the_previous_agents_tools_are_not_allowed() -> None:
    scenario = Scenario(strict_tools=False).on("go").call("transfer", amount=5, to="x").say("ok")
    async with connected(scenario, [transfer]) as (_, session):
        await session.update_agent(Agent(instructions="y", tools=[lookup], modality="text"))
        events = await ask(session, "go")
    (result,) = tool_results(events)
    assert result.error_type == "unknown_tool"
    assert ran["transfer"] == 0


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_denied_calls_are_answered_with_the_reason(asynchronous: bool) -> None:
    seen: list[ToolCallRequest] = []

    def decide(request: ToolCallRequest) -> Approval:
        seen.append(request)
        if request.name == "transfer":
            return Approval.deny("transfers need a human")
        return Approval.allow()

    async def decide_async(request: ToolCallRequest) -> Approval:
        await asyncio.sleep(0)
        return decide(request)

    scenario = (
        Scenario().on("go").call("transfer", amount=5, to="x").call("lookup", q="y").say("ok")
    )
    options = SessionOptions(approve=decide_async if asynchronous else decide)
    async with connected(scenario, [transfer, lookup], options) as (sim, session):
        events = await ask(session, "go")
    results = {r.name: r for r in tool_results(events)}
    assert results["transfer"].error_type == "denied"
    assert "transfers need a human" in _error(results["transfer"].output)["message"]
    assert results["lookup"].is_error is False
    assert ran == {"lookup": 1}
    assert [r.name for r in seen] == ["transfer", "lookup"]
    assert json.loads(seen[0].arguments) == {"amount": 5, "to": "x"}
    outputs = [e for e in sim.received if e["type"] == "conversation.item.create"
               and e["item"]["type"] == "function_call_output"]  # fmt: skip
    assert len(outputs) == 2  # the denied call is still answered


async def test_an_approval_hook_that_hangs_or_fails_denies() -> None:
    async def hang(request: ToolCallRequest) -> bool:
        await asyncio.Event().wait()
        return True

    def broken(request: ToolCallRequest) -> bool:
        raise RuntimeError("approval service down")

    scenario = Scenario().on("go").call("lookup", q="y").say("ok")
    for hook, reason in ((hang, "approval timed out"), (broken, "approval failed")):
        options = SessionOptions(approve=hook, approval_timeout=0.05)
        async with connected(scenario, [lookup], options) as (_, session):
            events = await ask(session, "go")
        (result,) = tool_results(events)
        assert result.error_type == "denied"
        assert reason in _error(result.output)["message"]
    assert ran["lookup"] == 0
