"""Spans and metrics of real sessions over WebSockets to the simulator, with the in-memory SDK."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentkit.agent import Agent
from agentkit.endpoints import Endpoint
from agentkit.errors import AuthenticationError
from agentkit.events import (
    AudioDelta,
    Reconnected,
    ReconnectGaveUp,
    ResponseFinished,
    SessionClosed,
    ToolCallFinished,
)
from agentkit.reconnect import ReconnectPolicy
from agentkit.session import Session
from agentkit.testing import Scenario, Simulator
from agentkit.tools import tool
from agentkit.usage import TokenPrices
from tests.dispatch.loopback import live
from tests.support import TIMEOUT
from tests.tracing.otel import Telemetry, attributes, histogram, parent_id, span_id, total

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    if city == "Atlantis":
        raise ValueError("unknown city 'Atlantis'")
    return {"temp_c": 4, "city": city}


@tool(timeout=0.05)
async def slow_lookup(query: str) -> str:
    """A lookup that never answers in time."""
    await asyncio.Event().wait()
    return query


WEATHER = (
    Scenario()
    .on("weather")
    .say("Let me check.")
    .call("get_weather", city="Oslo")
    .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees in Oslo.")
)


def by_start(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(spans, key=lambda span: span.start_time or 0)


def all_values(telemetry: Telemetry) -> str:
    return json.dumps([attributes(span) for span in telemetry.spans()], default=str)


async def test_a_tool_calling_conversation(telemetry: Telemetry) -> None:
    agent = Agent(instructions="Help.", tools=[get_weather])  # audio, server VAD
    async with live(WEATHER, agent, options=telemetry.options()) as t:
        await t.session.send_text("What's the weather in Oslo?")
        first = await t.events.wait_for(ResponseFinished)
        second = await t.events.wait_for(ResponseFinished, count=2)
        call = await t.events.wait_for(ToolCallFinished)
        session_id = t.session.session_id
        api_key = t.sim.api_key

    session = telemetry.one("invoke_agent")
    connect = telemetry.one("connect")
    chats = by_start(telemetry.named("chat "))
    tool_span = telemetry.one("execute_tool")
    assert session.name == "invoke_agent assistant" and session.parent is None
    assert parent_id(connect) == span_id(session)
    assert [parent_id(chat) for chat in chats] == [span_id(session)] * 2
    assert parent_id(tool_span) == span_id(chats[0])  # a child of the response that asked
    assert len({span.context.trace_id for span in telemetry.spans() if span.context}) == 1

    assert attributes(session) | {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "assistant",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-realtime",
        "gen_ai.conversation.id": session_id,
        "agentkit.session.id": session_id,
        "agentkit.close.code": 1000,
        "server.address": "127.0.0.1",
    } == attributes(session)
    assert session.status.status_code is StatusCode.UNSET

    for chat, done in zip(chats, (first, second), strict=True):
        found = attributes(chat)
        assert done.usage is not None and done.usage.output_token_details is not None
        assert chat.name == "chat gpt-realtime" and chat.kind is SpanKind.CLIENT
        assert found["gen_ai.operation.name"] == "chat"
        assert found["gen_ai.response.id"] == done.response_id
        assert found["gen_ai.response.finish_reasons"] == ("completed",)
        assert found["gen_ai.usage.input_tokens"] == done.usage.input_tokens
        assert found["gen_ai.usage.output_tokens"] == done.usage.output_tokens
        audio_tokens = done.usage.output_token_details["audio_tokens"]
        assert found["agentkit.usage.output_audio_tokens"] == audio_tokens
        assert found["agentkit.response.trigger"] == "client"
        assert found["agentkit.response.interrupted"] is False
        assert found["agentkit.session.id"] == session_id
        assert chat.end_time is not None and chat.start_time is not None
        duration = (chat.end_time - chat.start_time) / 1e9
        assert 0 < found["agentkit.response.time_to_first_audio"] <= duration
        assert 0 < found["agentkit.response.time_to_first_text"] <= duration
    assert [attributes(chat)["agentkit.response.round"] for chat in chats] == [0, 1]
    # Recorded after the follow-up went out, timed at the first response's response.done:
    assert chats[0].end_time is not None and chats[1].start_time is not None
    assert chats[0].end_time <= chats[1].start_time

    assert tool_span.name == "execute_tool get_weather"
    assert attributes(tool_span) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": call.call_id,
        "gen_ai.tool.type": "function",
        "gen_ai.response.id": first.response_id,
    }  # no arguments, no result: content is off by default
    assert tool_span.status.status_code is StatusCode.UNSET
    assert "gen_ai.output.messages" not in all_values(telemetry)
    assert api_key and api_key not in all_values(telemetry)

    chat_metric = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-realtime"}
    assert histogram(telemetry.points("gen_ai.client.operation.duration"), chat_metric).count == 2
    assert histogram(telemetry.points("agentkit.response.time_to_first_audio"), {}).count == 2
    ttfc = histogram(telemetry.points("gen_ai.client.operation.time_to_first_chunk"), {})
    assert ttfc.count == 2
    tools = histogram(
        telemetry.points("gen_ai.execute_tool.duration"), {"gen_ai.tool.name": "get_weather"}
    )
    assert tools.count == 1 and "error.type" not in (tools.attributes or {})
    usage = telemetry.points("gen_ai.client.token.usage")
    inputs = histogram(usage, {"gen_ai.token.type": "input"})
    assert inputs.count == 2
    assert inputs.sum == sum(d.usage.input_tokens or 0 for d in (first, second) if d.usage)
    audio = total(
        telemetry.points("agentkit.tokens"),
        {"gen_ai.token.type": "output", "agentkit.token.detail": "audio"},
    )
    assert audio == sum(
        (d.usage.output_token_details or {})["audio_tokens"] for d in (first, second) if d.usage
    )


async def test_failing_tools_set_error_status_and_record_the_exception(
    telemetry: Telemetry,
) -> None:
    scenario = (
        Scenario()
        .on("weather")
        .call("get_weather", city="Atlantis")
        .call("slow_lookup", query="atlantis")
        .say("Sorry, I could not find out.")
    )
    agent = Agent(instructions="Help.", tools=[get_weather, slow_lookup], modality="text")
    async with live(scenario, agent, options=telemetry.options()) as t:
        await t.session.send_text("weather in Atlantis?")
        await t.events.wait_for(ResponseFinished, count=2)

    raised = telemetry.one("execute_tool get_weather")
    timed_out = telemetry.one("execute_tool slow_lookup")
    for span, error in ((raised, "tool_error"), (timed_out, "timeout")):
        assert span.status.status_code is StatusCode.ERROR
        assert attributes(span)["error.type"] == error
    (exception,) = raised.events
    assert exception.name == "exception"
    assert dict(exception.attributes or {}) | {
        "exception.type": "ValueError",
        "exception.message": "unknown city 'Atlantis'",
    } == dict(exception.attributes or {})
    assert not timed_out.events  # a timeout is no exception of the tool's
    assert all(chat.status.status_code is StatusCode.UNSET for chat in telemetry.named("chat"))

    durations = telemetry.points("gen_ai.execute_tool.duration")
    assert histogram(durations, {"gen_ai.tool.name": "get_weather"}).attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "error.type": "tool_error",
    }
    assert histogram(durations, {"gen_ai.tool.name": "slow_lookup", "error.type": "timeout"})


async def test_an_interrupted_response(telemetry: Telemetry) -> None:
    long_text = " ".join(["This is a long answer that keeps going."] * 6)
    agent = Agent(instructions="Talk.")
    scenario = Scenario().on("talk").say(long_text)
    async with live(scenario, agent, options=telemetry.options(), stream_delay=0.01) as t:
        await t.session.send_text("talk to me")
        await t.events.wait_for(AudioDelta)
        await t.session.interrupt()
        finished = await t.events.wait_for(ResponseFinished)
        assert finished.status == "cancelled"

    chat = telemetry.one("chat")
    found = attributes(chat)
    assert found["gen_ai.response.id"] == finished.response_id
    assert found["agentkit.response.interrupted"] is True
    assert found["gen_ai.response.finish_reasons"] == ("cancelled",)
    assert found["agentkit.response.status_reason"] == "client_cancelled"
    assert found["agentkit.response.time_to_first_audio"] > 0
    assert chat.status.status_code is StatusCode.UNSET  # the user cut it off: not a failure
    (interrupted,) = [event for event in chat.events if event.name == "agentkit.interrupted"]
    assert "agentkit.audio_end_ms" in (interrupted.attributes or {})
    duration = histogram(telemetry.points("gen_ai.client.operation.duration"), {})
    assert duration.count == 1 and "error.type" not in (duration.attributes or {})


async def test_a_failed_response_started_by_the_server(telemetry: Telemetry) -> None:
    agent = Agent(instructions="Help.", modality="text")
    async with live(Scenario(), agent, options=telemetry.options()) as t:
        response = {"id": "resp_bad", "object": "realtime.response", "output": []}
        await t.sim.inject({"type": "response.created", "response": response})
        details = {"type": "failed", "error": {"type": "server_error", "code": "boom"}}
        failed = {**response, "status": "failed", "status_details": details}
        await t.sim.inject({"type": "response.done", "response": failed})
        await t.events.wait_for(ResponseFinished, lambda e: e.response_id == "resp_bad")

    chat = telemetry.one("chat")
    found = attributes(chat)
    assert found["agentkit.response.trigger"] == "server"  # no response.create of ours
    assert found["gen_ai.response.finish_reasons"] == ("failed",)
    assert found["error.type"] == "failed"
    assert chat.status.status_code is StatusCode.ERROR
    assert [event.name for event in chat.events] == ["exception"]
    assert histogram(telemetry.points("gen_ai.client.operation.duration"), {"error.type": "failed"})


async def test_a_reconnect_is_a_span_and_is_counted(telemetry: Telemetry) -> None:
    agent = Agent(instructions="Help.", modality="text")
    scenario = Scenario().on("hello").say("Hello there.")
    async with live(scenario, agent, options=telemetry.options(reconnect=FAST)) as t:
        await t.sim.close_connections(1011, "server error")
        reconnected = await t.events.wait_for(Reconnected)
        await t.session.send_text("hello")
        await t.events.wait_for(ResponseFinished)

    session = telemetry.one("invoke_agent")
    reconnect = telemetry.one("agentkit.reconnect")
    assert parent_id(reconnect) == span_id(session)
    found = attributes(reconnect)
    assert found["agentkit.reconnect.outcome"] == "reconnected"
    assert found["agentkit.reconnect.attempts"] == reconnected.attempt
    assert "1011" in found["agentkit.reconnect.reason"]
    attempts = [e for e in reconnect.events if e.name == "agentkit.reconnect.attempt"]
    assert len(attempts) == reconnected.attempt
    assert reconnect.status.status_code is StatusCode.UNSET
    assert session.status.status_code is StatusCode.UNSET
    assert parent_id(telemetry.one("chat")) == span_id(session)
    reconnects = telemetry.points("agentkit.reconnects")
    assert total(reconnects, {"agentkit.reconnect.outcome": "reconnected"}) == 1
    assert total(reconnects, {"agentkit.reconnect.outcome": "gave_up"}) == 0


async def test_a_response_lost_with_the_socket(telemetry: Telemetry) -> None:
    agent = Agent(instructions="Help.", modality="text")
    scenario = Scenario().on("hello").say("Hello there, nice to meet you.")
    options = telemetry.options(reconnect=FAST)
    async with live(scenario, agent, options=options) as t:
        t.sim.faults.drop_during_response()
        await t.session.send_text("hello")
        await t.events.wait_for(Reconnected)
        await t.events.wait_for(ResponseFinished, lambda e: e.status == "completed")

    lost, answered = by_start(telemetry.named("chat"))
    assert attributes(lost)["gen_ai.response.finish_reasons"] == ("connection_lost",)
    assert lost.status.status_code is StatusCode.ERROR
    assert attributes(answered)["gen_ai.response.finish_reasons"] == ("completed",)
    reconnect = telemetry.one("agentkit.reconnect")
    assert lost.end_time is not None and reconnect.start_time is not None
    assert lost.end_time <= reconnect.start_time


async def test_giving_up_fails_the_session_span(telemetry: Telemetry) -> None:
    agent = Agent(instructions="Help.", modality="text")
    policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=2)
    async with live(Scenario(), agent, options=telemetry.options(reconnect=policy)) as t:
        await t.sim.go_offline()
        await t.sim.close_connections(1011, "server error")
        await t.events.wait_for(ReconnectGaveUp)
        await t.session.wait_for(SessionClosed, TIMEOUT)

    session = telemetry.one("invoke_agent")
    assert session.status.status_code is StatusCode.ERROR
    assert attributes(session)["error.type"] == "reconnect_gave_up"
    reconnect = telemetry.one("agentkit.reconnect")
    assert attributes(reconnect)["agentkit.reconnect.outcome"] == "gave_up"
    assert reconnect.status.status_code is StatusCode.ERROR
    reconnects = telemetry.points("agentkit.reconnects")
    assert total(reconnects, {"agentkit.reconnect.outcome": "gave_up"}) == 1


async def test_content_is_recorded_when_opted_in(telemetry: Telemetry) -> None:
    agent = Agent(instructions="Help.", tools=[get_weather], modality="text")
    async with live(WEATHER, agent, options=telemetry.options(trace_content=True)) as t:
        await t.session.send_text("weather in Oslo?")
        last = await t.events.wait_for(ResponseFinished, count=2)

    tool_span = telemetry.one("execute_tool")
    assert json.loads(attributes(tool_span)["gen_ai.tool.call.arguments"]) == {"city": "Oslo"}
    assert json.loads(attributes(tool_span)["gen_ai.tool.call.result"]) == {
        "temp_c": 4,
        "city": "Oslo",
    }
    chat = by_start(telemetry.named("chat"))[-1]
    (message,) = json.loads(attributes(chat)["gen_ai.output.messages"])
    assert message["role"] == "assistant" and message["finish_reason"] == "completed"
    assert message["parts"] == [{"type": "text", "content": last.text}]


async def test_the_session_is_a_child_of_the_embedding_service_span(
    telemetry: Telemetry,
) -> None:
    service = telemetry.tracer_provider.get_tracer("service")
    agent = Agent(instructions="Help.", modality="text")
    scenario = Scenario().on("hello").say("Hello.")
    with service.start_as_current_span("POST /call") as request:
        async with live(scenario, agent, options=telemetry.options()) as t:
            await t.session.send_text("hello")
            await t.events.wait_for(ResponseFinished)

    session = telemetry.one("invoke_agent")
    assert parent_id(session) == request.get_span_context().span_id
    trace_ids = {span.context.trace_id for span in telemetry.spans() if span.context}
    assert trace_ids == {request.get_span_context().trace_id}


async def test_a_trace_context_from_another_process_is_the_parent(telemetry: Telemetry) -> None:
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{trace_id}-{parent}-01"}
    extracted = TraceContextTextMapPropagator().extract(headers)
    agent = Agent(instructions="Help.", modality="text")
    token = otel_context.attach(extracted)
    try:
        async with live(Scenario(), agent, options=telemetry.options()):
            pass
    finally:
        otel_context.detach(token)

    session = telemetry.one("invoke_agent")
    assert session.parent is not None and session.parent.is_remote
    assert session.parent.span_id == int(parent, 16)
    assert session.context is not None and session.context.trace_id == int(trace_id, 16)


async def test_a_failed_connect_ends_the_session_span(telemetry: Telemetry) -> None:
    async with Simulator(Scenario(), api_key="right-key") as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential="wrong-key")
        session = Session(Agent(), endpoint, options=telemetry.options())
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(session.start(), TIMEOUT)

    session_span = telemetry.one("invoke_agent")
    connect = telemetry.one("connect")
    for span in (session_span, connect):
        assert span.status.status_code is StatusCode.ERROR
        assert attributes(span)["error.type"] == "AuthenticationError"
    assert [event.name for event in connect.events] == ["exception"]
    assert "wrong-key" not in json.dumps(
        [[dict(e.attributes or {}) for e in span.events] for span in telemetry.spans()]
    )
    assert "wrong-key" not in all_values(telemetry)


async def test_a_response_asked_for_through_send_event_is_traced_from_the_request(
    telemetry: Telemetry,
) -> None:
    from agentkit.protocol.client_events import ResponseCreate

    agent = Agent(instructions="Help.", modality="text")
    scenario = Scenario().on("hello").say("Hi there.")
    async with live(scenario, agent, options=telemetry.options()) as t:
        await t.session.send_text("hello", respond=False)
        await t.session.send_event(ResponseCreate())
        await t.events.wait_for(ResponseFinished)

    assert attributes(telemetry.one("chat"))["agentkit.response.trigger"] == "client"


async def test_the_estimated_cost_is_a_metric_and_a_span_attribute(telemetry: Telemetry) -> None:
    prices = TokenPrices(
        input_text=4.0, cached_input_text=0.4, output_text=16.0, input_audio=32.0,
        cached_input_audio=0.4, output_audio=64.0,
    )  # fmt: skip
    agent = Agent(instructions="x", tools=[get_weather], modality="text")
    async with live(WEATHER, agent, options=telemetry.options(prices=prices)) as t:
        await t.session.ask("weather?")
        spent = t.session.cost
    assert spent is not None and spent > 0
    costs = [attributes(chat).get("agentkit.response.cost") for chat in telemetry.named("chat")]
    assert len(costs) == 2 and all(isinstance(cost, float) and cost > 0 for cost in costs)
    assert sum(costs) == pytest.approx(spent)  # type: ignore[arg-type]
    assert total(telemetry.points("agentkit.cost"), {"gen_ai.operation.name": "chat"}) == (
        pytest.approx(spent)
    )
