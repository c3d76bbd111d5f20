"""Tools from an MCP server beside a local tool: the notes server of mcp_notes_server.py.

The agent's tools are the server's (listed when this file is imported, with
``tools_blocking()``) and a local ``today``. The model calls them alike; the server's progress
shows as ``..`` lines. Needs the mcp extra: ``pip install "agentkit-realtime[mcp]"``.

    agentkit run examples/mcp_tools.py --simulate --say "Remember to buy milk" \\
        --say "What are my notes?"

``python examples/mcp_tools.py`` holds the same conversation from Python, where the server's
lifetime is an ``async with`` and ``keep_updated`` turns its tools/list_changed into a
``session.update``: "enable search" adds a tool the model then calls.
"""

from __future__ import annotations

import asyncio
import datetime
import sys
from pathlib import Path

from agentkit import Agent, Endpoint, Session, tool
from agentkit.events import ToolProgress
from agentkit.mcp import MCPServerStdio, gather_tools
from agentkit.testing import Scenario, Simulator, ToolOutputs

SERVER = Path(__file__).with_name("mcp_notes_server.py")
notes = MCPServerStdio(sys.executable, [str(SERVER)], name="notes")


@tool
def today() -> str:
    """Today's date, ISO 8601."""
    return datetime.date.today().isoformat()


INSTRUCTIONS = "You keep the user's notes with the notes tools. Be brief."
agent = Agent(name="notes", instructions=INSTRUCTIONS, tools=[today, *notes.tools_blocking()])


def _notes(out: ToolOutputs) -> str:
    saved = out.raw("list_notes").splitlines()  # a list comes back one text line per item
    return f"On {out.raw('today')} you have {len(saved)} notes: {'; '.join(saved)}."


scenario = (
    Scenario()
    .on("remember")
    .call("add_note", text="buy milk")
    .say("Noted.")
    .on("search")
    .call("enable_search")
    .say("Search is on.")
    .on("milk")
    .call("search_notes", word="milk")
    .say(lambda out: f"Found: {'; '.join(out.raw('search_notes').splitlines())}.")
    .on("notes")
    .call("list_notes")
    .call("today")
    .say(_notes)
    .otherwise("I can remember, list and search notes.")
)


async def main() -> None:
    """The server lives as long as the ``async with``; its tool changes reach the session."""
    async with notes, Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        text = Agent(instructions=INSTRUCTIONS, tools=await gather_tools([today], notes))
        text = text.with_changes(modality="text", turn_detection=None)
        async with Session(text, endpoint) as session:
            notes.keep_updated(session)
            session.on(ToolProgress, lambda event: print(f"  .. {event.message}"))
            for line in ("Remember to buy milk", "Enable search", "Which notes say milk?"):
                print(f"you: {line}")
                answer = await session.ask(line)
                for call in answer.tool_calls:
                    print(f"  -> {call.name}({call.arguments}): {call.output}")
                print(f"assistant: {answer.text}")


if __name__ == "__main__":
    asyncio.run(main())
