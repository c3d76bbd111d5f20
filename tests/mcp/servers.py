"""The MCP servers the tests talk to, written with the ``mcp`` SDK's ``MCPServer`` (FastMCP).

``build()`` makes one; ``stdio_server.py`` runs it over stdio, :func:`serve_http` on 127.0.0.1
over streamable HTTP. A tool that sees its request cancelled writes ``cancelled NAME`` to the
marks file, so a test in another process can tell that the cancellation reached the server.
A ``gated`` server also has ``hold``, a tool that runs until the test writes ``release KEY`` to
the marks file, so that a test can drop a socket while a call is surely running, and reports
progress at each ``tick KEY`` written there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

from tests.support import TIMEOUT

STDIO_SCRIPT = Path(__file__).with_name("stdio_server.py")


def build(name: str, marks: Path | None = None, *, gated: bool = False) -> MCPServer:
    """A server with a quick tool, a tool reporting progress, one that runs until cancelled,
    one that adds a tool (and says its list changed), and two that end its own process; with
    ``gated`` (and ``marks``), also ``hold``."""
    server = MCPServer(name, log_level="WARNING")  # its default INFO reconfigures logging

    def mark(text: str) -> None:
        if marks is not None:
            with marks.open("a", encoding="utf-8") as file:
                file.write(text + "\n")

    _add_work(server, name, mark)
    _add_changes(server)
    _add_endings(server, mark)
    if gated and marks is not None:
        _add_gate(server, marks, mark)
    return server


def _add_work(server: MCPServer, name: str, mark: Callable[[str], None]) -> None:
    @server.tool()
    def lookup(city: str, days: int = 1) -> str:
        """The forecast for a city."""
        return f"{name}: {city} sunny for {days} day(s)"

    @server.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Count to steps, reporting each step."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step} of {steps}")
            await anyio.sleep(0.01)
        return f"counted to {steps}"

    @server.tool()
    async def wait_forever(ctx: Context) -> str:
        """Wait until cancelled."""
        mark("started wait_forever")
        try:
            await anyio.sleep(1000)
        except anyio.get_cancelled_exc_class():
            mark("cancelled wait_forever")
            raise
        return "never"


def _add_changes(server: MCPServer) -> None:
    @server.tool()
    async def grow(ctx: Context) -> str:
        """Add the tool 'shout'."""

        def shout(text: str) -> str:
            return text.upper() + "!"

        server.add_tool(shout, name="shout", description="Shout the text.")
        await ctx.notify_tools_changed()  # 2026-07-28: subscriptions/listen
        await ctx.session.send_tool_list_changed()  # earlier protocol versions
        return "added shout"


def _add_endings(server: MCPServer, mark: Callable[[str], None]) -> None:
    @server.tool()
    def exit_later() -> str:
        """End the server's process just after answering."""

        def exit_now() -> None:
            mark("exited")
            os._exit(4)

        threading.Timer(0.2, exit_now).start()
        return "bye"

    @server.tool()
    def crash() -> str:
        """End the server's process at once."""
        mark("crashed")
        sys.stdout.flush()
        os._exit(3)


def _add_gate(server: MCPServer, marks: Path, mark: Callable[[str], None]) -> None:
    @server.tool()
    async def hold(key: str, ctx: Context) -> str:
        """Run until released, reporting progress at each tick."""
        mark(f"started hold {key}")
        ticks = 0
        try:
            while not released(marks, key):
                if (seen := marks_of(marks).count(f"tick {key}")) > ticks:
                    ticks = seen
                    await ctx.report_progress(ticks, None, f"tick {ticks} of {key}")
                await anyio.sleep(0.02)
        except anyio.get_cancelled_exc_class():
            mark(f"cancelled hold {key}")
            raise
        mark(f"finished hold {key}")
        return f"held {key}"


def released(marks: Path, key: str) -> bool:
    """Whether the test let ``hold`` with ``key`` finish (see :func:`release`)."""
    return f"release {key}" in marks_of(marks)


def release(marks: Path, key: str) -> None:
    """Let a running (or later) ``hold`` with ``key`` finish."""
    with marks.open("a", encoding="utf-8") as file:
        file.write(f"release {key}\n")


def tick(marks: Path, key: str) -> None:
    """Make a running ``hold`` with ``key`` report progress once more."""
    with marks.open("a", encoding="utf-8") as file:
        file.write(f"tick {key}\n")


def marks_of(marks: Path) -> list[str]:
    """The lines written to the marks file so far."""
    return marks.read_text(encoding="utf-8").splitlines() if marks.exists() else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_http(
    server: MCPServer, headers_seen: list[dict[str, str]] | None = None, port: int | None = None
) -> AsyncIterator[str]:
    """Serve ``server`` over streamable HTTP on 127.0.0.1 (a free port unless given); yields
    its URL. The headers of every HTTP request go to ``headers_seen``. Stopping it ends the
    streams clients hold open (a subscriptions/listen stream) after a second."""
    port = port or free_port()
    mcp_app = server.streamable_http_app()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and headers_seen is not None:
            headers_seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await mcp_app(scope, receive, send)

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", timeout_graceful_shutdown=1
    )
    web = uvicorn.Server(config)
    task = asyncio.create_task(web.serve())
    try:
        await asyncio.wait_for(_started(web), TIMEOUT)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        web.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)


async def _started(web: uvicorn.Server) -> None:
    while not web.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
        await asyncio.sleep(0.01)
