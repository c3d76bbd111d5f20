"""Print a session's spans and metrics to the console (issue #7), against the local simulator.

    .venv/bin/python examples/tracing_console.py

agentkit only calls the OpenTelemetry API; this script is the application, so it brings the SDK
(``pip install opentelemetry-sdk``) and a console exporter. The session runs inside a
``handle call`` span, the way a web service would start it inside a request span, and the
trace shows: handle call > invoke_agent > chat > execute_tool. See docs/tracing.md for OTLP.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from agentkit import Agent, Endpoint, Session, SessionOptions, tool
from agentkit.events import ResponseFinished
from agentkit.testing import Scenario, Simulator


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: the city name.
    """
    return {"temp_c": 4, "sky": "overcast", "city": city}


SCENARIO = (
    Scenario()
    .on("weather")
    .say("Let me check.")
    .call("get_weather", city="Oslo")
    .say(lambda out: f"It is {out['get_weather']['temp_c']} degrees in Oslo.")
)


async def main() -> None:
    resource = Resource.create({"service.name": "weather-agent"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    # Setting them globally works too (trace.set_tracer_provider(...)); passing them keeps this
    # example self-contained. trace_content=True also records arguments, results and words.
    options = SessionOptions(
        tracer_provider=tracer_provider, meter_provider=meter_provider, trace_content=True
    )
    service = tracer_provider.get_tracer("weather-service")
    async with Simulator(SCENARIO) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="gpt-realtime"), credential=sim.api_key)
        agent = Agent(instructions="You help with weather.", tools=[get_weather])
        with service.start_as_current_span("handle call") as call:
            async with Session(agent, endpoint, options=options) as session:
                await session.send_text("What's the weather in Oslo?")
                async for event in session:
                    if isinstance(event, ResponseFinished) and "degrees" in event.text:
                        print(f"assistant: {event.text}")
                        break
        print(f"trace id: {trace.format_trace_id(call.get_span_context().trace_id)}")
    meter_provider.shutdown()  # exports the metrics once more, then stops
    tracer_provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
