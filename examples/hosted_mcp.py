"""A hosted MCP server: the service, not agentkit, calls the notes server's tools.

The notes server of mcp_notes_server.py runs over streamable HTTP on 127.0.0.1 (started when
this file is imported, stopped when the process ends). The agent names it with ``HostedMCP``;
the service lists its tools and calls them itself; here the simulator plays the service and
really talks to the server. Saving a note needs the user's approval: the service asks, and
``approve`` below answers through the session's approval hook. Needs the mcp extra for the
notes server and the simulator: ``pip install "agentkit-realtime[mcp,testing]"``.

    agentkit run examples/hosted_mcp.py --simulate --say "Remember to buy milk" \\
        --say "What are my notes?"

``python examples/hosted_mcp.py`` holds the same conversation from Python and prints what the
service did with the server as it happens.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from agentkit import Agent, Approval, Endpoint, HostedMCP, Session, SessionOptions, ToolCallRequest
from agentkit.events import (
    HostedToolApprovalAnswered,
    HostedToolCallFinished,
    HostedToolsListing,
)
from agentkit.testing import Scenario, Simulator, ToolOutputs

SERVER = Path(__file__).with_name("mcp_notes_server.py")


def start_notes_server(timeout: float = 20.0) -> str:
    """Run the notes server over streamable HTTP in a child process; its URL once it listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = f"import runpy; runpy.run_path({str(SERVER)!r})['server'].run("
    run += f"'streamable-http', host='127.0.0.1', port={port})"
    quiet = subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-c", run], stdout=quiet, stderr=quiet)
    atexit.register(_stop, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"the notes server did not start on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=10)


notes = HostedMCP(
    "notes",
    start_notes_server(),
    # Secret: sent to the server, never shown in logs, reprs or recordings.
    headers={"Authorization": f"Bearer {os.environ.get('NOTES_TOKEN', 'demo-token')}"},
    allowed_tools=["add_note", "list_notes"],
    require_approval={"never": {"tool_names": ["list_notes"]}},  # saving a note asks first
    server_description="The user's notes.",
)

INSTRUCTIONS = "You keep the user's notes with the notes tools. Be brief."
agent = Agent(name="notes", instructions=INSTRUCTIONS, tools=[notes])


def approve(request: ToolCallRequest) -> Approval:
    """The application decides what the service may do on the user's behalf."""
    print(f"  ?? {request.server_label}.{request.name}({request.arguments}): approved")
    return Approval.allow()


options = SessionOptions(approve=approve)


def _notes(out: ToolOutputs) -> str:
    saved = out.raw("list_notes").splitlines()  # a list comes back one text line per item
    return f"You have {len(saved)} notes: {'; '.join(saved)}."


scenario = (
    Scenario()
    .on("remember")
    .call("add_note", text="buy milk")
    .say(lambda out: f"Noted: {out.raw('add_note')}.")
    .on("notes")
    .call("list_notes")
    .say(_notes)
    .otherwise("I can remember and list notes.")
)


async def main() -> None:
    """The same conversation from Python, showing what the service did with the server."""
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(), credential=sim.api_key)
        text = agent.with_changes(modality="text", turn_detection=None)
        async with Session(text, endpoint, options=options) as session:
            session.on(HostedToolsListing, _listing)
            session.on(HostedToolApprovalAnswered, _answered)
            session.on(HostedToolCallFinished, _called)
            for line in ("Remember to buy milk", "What are my notes?"):
                print(f"you: {line}")
                answer = await session.ask(line)
                print(f"assistant: {answer.text}")


def _listing(event: HostedToolsListing) -> None:
    if event.status != "in_progress":
        print(f"  .. {event.server_label}: tools {event.status}: {', '.join(event.tools)}")


def _answered(event: HostedToolApprovalAnswered) -> None:
    print(f"  .. answered {event.name}: {'yes' if event.approved else 'no'}")


def _called(event: HostedToolCallFinished) -> None:
    print(f"  -> {event.server_label}.{event.name}({event.arguments}): {event.output}")


if __name__ == "__main__":
    asyncio.run(main())
