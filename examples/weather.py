"""The smallest complete agent: one tool.

Run it against the built-in simulator (no account needed):

    agentkit run examples/weather.py --simulate --say "What's the weather in Oslo?"

or against Azure / OpenAI with credentials in the environment (see docs/azure.md).
"""

from __future__ import annotations

from typing import Literal

from agentkit import Agent, tool
from agentkit.testing import Scenario

_FORECASTS = {
    "oslo": {"temp_c": 4, "sky": "overcast"},
    "paris": {"temp_c": 14, "sky": "sunny"},
    "tokyo": {"temp_c": 19, "sky": "light rain"},
}


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Current weather for a city.

    Args:
        city: the city name, e.g. "Oslo".
        unit: the temperature unit to answer in.
    """
    forecast = _FORECASTS.get(city.casefold())
    if forecast is None:
        raise LookupError(f"no weather station for {city!r}")
    temp = forecast["temp_c"]
    if unit == "fahrenheit":
        temp = round(int(temp) * 9 / 5 + 32)
    return {"city": city, "temperature": temp, "unit": unit, "sky": forecast["sky"]}


agent = Agent(
    name="weather",
    instructions="You are a concise weather assistant. Use get_weather for any city asked about.",
    tools=[get_weather],
)


def _report(outputs: object) -> str:
    weather = outputs["get_weather"]  # type: ignore[index]
    if "error" in weather:
        return "Sorry, I could not find that city."
    return f"It is {weather['temperature']} degrees and {weather['sky']} in {weather['city']}."


# What the simulator's scripted "model" does with this agent (used by --simulate and the tests).
scenario = (
    Scenario()
    .on("oslo")
    .say("Let me check.")
    .call("get_weather", city="Oslo")
    .say(_report)
    .on("paris")
    .call("get_weather", city="Paris")
    .say(_report)
    .on("atlantis")
    .call("get_weather", city="Atlantis")
    .say(_report)
    .otherwise("I can tell you the weather in Oslo, Paris or Tokyo.")
)
