"""agentkit.testing: a local Realtime API service for tests, examples and offline work.

    from agentkit.testing import Scenario, Simulator

    scenario = Scenario().on("weather").call("get_weather", city="Oslo").say("It is 4 degrees.")
    async with Simulator(scenario=scenario, api_key="test-key") as sim:
        ...  # point the client at sim.ga_url() with api key "test-key"

It speaks the wire protocol as raw JSON (GA and preview dialects) and never imports agentkit's
client code, so it can judge it. See docs/testing.md.
"""

from __future__ import annotations

from agentkit.testing.audio import silence, speech
from agentkit.testing.cassette import Cassette
from agentkit.testing.faults import Faults
from agentkit.testing.records import ConnectionRecord, EventLog
from agentkit.testing.scenario import Scenario, ToolOutput, ToolOutputs, Turn
from agentkit.testing.server import Simulator
from agentkit.testing.state import ConnectionState

__all__ = [
    "Cassette",
    "ConnectionRecord",
    "ConnectionState",
    "EventLog",
    "Faults",
    "Scenario",
    "Simulator",
    "ToolOutput",
    "ToolOutputs",
    "Turn",
    "silence",
    "speech",
]
