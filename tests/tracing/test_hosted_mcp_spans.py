"""A hosted MCP call, which the service makes, is a span under its response."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

pytest.importorskip("mcp")

from agentkit import Agent, Endpoint, HostedMCP, Session
from agentkit.events import HostedToolsListing
from agentkit.testing import Scenario, Simulator
from tests.mcp.servers import build, serve_http
from tests.support import TIMEOUT
from tests.tracing.otel import Telemetry, attributes, parent_id, span_id

CANARY = "canary-trace-5be1"
SCENARIO = (
    Scenario()
    .on("forecast")
    .call("lookup", city="Oslo", days=2)
    .say(lambda out: f"Forecast: {out.raw('lookup')}")
)


async def _listed(session: Session) -> None:
    async for event in session:
        if isinstance(event, HostedToolsListing) and event.status == "completed":
            return


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    recorded = Telemetry()
    yield recorded
    recorded.shutdown()


@pytest.mark.parametrize("content", [False, True], ids=["plain", "content"])
async def test_a_hosted_call_is_a_tool_span_of_its_response(
    telemetry: Telemetry, content: bool
) -> None:
    async with serve_http(build("wx")) as url, Simulator(SCENARIO) as sim:
        server = HostedMCP(
            "weather", url, headers={"X-Notes-Token": CANARY}, require_approval="never"
        )
        agent = Agent(instructions="x", tools=[server], modality="text", turn_detection=None)
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        async with Session(agent, endpoint, options=telemetry.options(trace_content=content)) as s:
            await asyncio.wait_for(_listed(s), TIMEOUT)
            answer = await s.ask("the forecast please", timeout=TIMEOUT)
    assert answer.text == "Forecast: wx: Oslo sunny for 2 day(s)"
    span = telemetry.one("execute_tool lookup")
    found = attributes(span)
    assert found["gen_ai.tool.type"] == "extension"
    assert found["agentkit.mcp.server_label"] == "weather"
    assert found["gen_ai.tool.call.id"]
    assert (span.start_time or 0) <= (span.end_time or 0)
    (response,) = [
        r
        for r in telemetry.named("chat")
        if attributes(r)["gen_ai.response.id"] == found["gen_ai.response.id"]
    ]
    assert parent_id(span) == span_id(response)
    if content:
        assert found["gen_ai.tool.call.result"] == "wx: Oslo sunny for 2 day(s)"
        assert "Oslo" in found["gen_ai.tool.call.arguments"]
    else:
        assert "gen_ai.tool.call.result" not in found
    for recorded in telemetry.spans():
        assert CANARY not in repr(dict(recorded.attributes or {}))
        assert all(CANARY not in repr(event.attributes) for event in recorded.events)
