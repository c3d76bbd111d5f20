"""Travel planner: chained and parallel tool calls.

The model first picks a destination (one call), then, with that answer, asks for the weather,
flights and hotels at once (three calls in one response). agentkit starts each call as soon as
its arguments are complete, runs the three concurrently (watch the durations: the round takes
about as long as the slowest call, not the sum), and asks for exactly one follow-up response
once all three outputs are in.

    agentkit run examples/travel.py --simulate --say "Plan a weekend somewhere warm in March"
    agentkit run examples/travel.py --simulate --say "Compare Lisbon and Rome"
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Literal

from agentkit import Agent, tool
from agentkit.testing import Scenario, ToolOutputs

LATENCY_S = 0.3
"""Each lookup pretends to call a slow partner API."""

_CITIES = {
    "warm": {"city": "Lisbon", "country": "Portugal", "airport": "LIS"},
    "art": {"city": "Florence", "country": "Italy", "airport": "FLR"},
    "snow": {"city": "Tromsø", "country": "Norway", "airport": "TOS"},
}
_CLIMATE = {
    "Lisbon": (19, "sunny"),
    "Florence": (15, "mild"),
    "Tromsø": (-4, "snow"),
    "Rome": (17, "sunny"),
}


@tool
async def find_destination(wish: Literal["warm", "art", "snow"]) -> dict[str, str]:
    """Suggest a destination for a kind of trip.

    Args:
        wish: what the traveller wants most.
    """
    await asyncio.sleep(LATENCY_S)
    return _CITIES[wish]


@tool
async def get_climate(city: str, month: int = 3) -> dict[str, object]:
    """Typical weather of a city in a month (1-12)."""
    await asyncio.sleep(LATENCY_S)
    temp, sky = _CLIMATE.get(city, (12, "variable"))
    return {"city": city, "month": month, "temp_c": temp, "sky": sky}


@tool
async def search_flights(origin: str, destination: str, depart: date) -> list[dict[str, object]]:
    """Flights from one city to another on a date.

    Args:
        origin: departure city.
        destination: arrival city.
        depart: the departure date.
    """
    await asyncio.sleep(LATENCY_S)
    return [
        {"flight": "AK 101", "from": origin, "to": destination, "date": str(depart), "eur": 149},
        {"flight": "AK 205", "from": origin, "to": destination, "date": str(depart), "eur": 98},
    ]


@tool
async def search_hotels(city: str, nights: int = 2) -> list[dict[str, object]]:
    """Hotels with rooms free in a city."""
    await asyncio.sleep(LATENCY_S)
    return [{"hotel": f"Casa {city}", "eur_per_night": 95, "nights": nights}]


agent = Agent(
    name="travel",
    instructions=(
        "You plan short trips from Amsterdam. Pick a destination with find_destination, then "
        "look up climate, flights and hotels for it in parallel, and propose one plan."
    ),
    tools=[find_destination, get_climate, search_flights, search_hotels],
)


def _destination(out: ToolOutputs) -> str:
    return str(out["find_destination"]["city"])


def _plan(out: ToolOutputs) -> str:
    climate, hotel = out["get_climate"], out["search_hotels"][0]
    cheapest = min(out["search_flights"], key=lambda flight: flight["eur"])
    return (
        f"{climate['city']}: about {climate['temp_c']} degrees and {climate['sky']}. "
        f"Fly {cheapest['flight']} for {cheapest['eur']} EUR and stay at {hotel['hotel']}."
    )


def _compare(out: ToolOutputs) -> str:
    lisbon, rome = (o.value for o in out.all if o.name == "get_climate")
    warmer = lisbon if lisbon["temp_c"] >= rome["temp_c"] else rome
    return f"Lisbon {lisbon['temp_c']} and Rome {rome['temp_c']} degrees: {warmer['city']} wins."


# The scripted "model": a chain (destination first), then three calls in one response.
scenario = (
    Scenario()
    .on("compare")
    .call("get_climate", city="Lisbon")
    .call("get_climate", city="Rome")
    .say(_compare)
    .on("plan")
    .say("Let me find somewhere warm.")
    .call("find_destination", wish="warm")
    .then()
    .call("get_climate", lambda out: {"city": _destination(out), "month": 3})
    .call(
        "search_flights",
        lambda out: {
            "origin": "Amsterdam",
            "destination": _destination(out),
            "depart": "2026-03-13",
        },
    )
    .call("search_hotels", lambda out: {"city": _destination(out), "nights": 2})
    .say(_plan)
    .otherwise("Tell me what kind of trip you would like and I will plan it.")
)
