"""Without an SDK a session gets the do-nothing tracer and registers no handler (no sockets)."""

from __future__ import annotations

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

from agentkit.agent import Agent
from agentkit.protocol.dialects import Dialect
from agentkit.session import Session, SessionOptions
from agentkit.tracing import NO_TRACING, SessionTracer
from agentkit.transport import Transport
from tests.tracing.otel import Telemetry


async def _never() -> Transport:
    raise AssertionError("not connected in these tests")


def _session(options: SessionOptions) -> Session:
    return Session(Agent(), options=options, connector=_never, dialect=Dialect.GA)


async def test_without_a_configured_sdk_tracing_costs_nothing() -> None:
    if not isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
        pytest.skip("a global tracer provider was set in this process")
    session = _session(SessionOptions())
    assert session._tracing is NO_TRACING
    assert session._handlers == {}  # not even a handler on the audio stream


async def test_no_op_providers_turn_agentkit_tracing_off() -> None:
    options = SessionOptions(
        tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
    )
    assert _session(options)._tracing is NO_TRACING


async def test_explicit_providers_turn_it_on(telemetry: Telemetry) -> None:
    session = _session(telemetry.options())
    assert isinstance(session._tracing, SessionTracer)
    session_metrics_only = _session(SessionOptions(meter_provider=telemetry.meter_provider))
    assert isinstance(session_metrics_only._tracing, SessionTracer)
    assert isinstance(metrics.get_meter_provider(), metrics.MeterProvider)


async def test_close_before_start_ends_nothing(telemetry: Telemetry) -> None:
    session = _session(telemetry.options())
    await session.close()
    assert telemetry.spans() == ()
