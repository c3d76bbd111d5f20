"""A small MCP server, written with the ``mcp`` SDK, that ``examples/mcp_tools.py`` runs over stdio.

It keeps notes in memory for as long as its process lives. ``add_note`` reports progress, as
a slow tool would; ``enable_search`` adds a ``search_notes`` tool and tells its clients that the
tool list changed, and agentkit sends the session a new ``session.update``.

    python examples/mcp_notes_server.py     # speaks MCP on stdin/stdout
"""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("notes")
notes: list[str] = []


@server.tool()
async def add_note(text: str, ctx: Context) -> str:
    """Save a note for later."""
    await ctx.report_progress(1, 2, "saving the note")
    notes.append(text)
    await ctx.report_progress(2, 2, "saved")
    return f"saved note {len(notes)}"


@server.tool()
def list_notes() -> list[str]:
    """Every note saved so far, oldest first."""
    return list(notes)


@server.tool()
async def enable_search(ctx: Context) -> str:
    """Turn on note search (adds the search_notes tool)."""

    def search_notes(word: str) -> list[str]:
        return [note for note in notes if word.casefold() in note.casefold()]

    if "search_notes" not in [t.name for t in await server.list_tools()]:
        server.add_tool(search_notes, description="The notes that contain a word.")
        await ctx.notify_tools_changed()  # clients on the 2026-07-28 protocol
        await ctx.session.send_tool_list_changed()  # clients on earlier versions
    return "search is on"


if __name__ == "__main__":
    server.run("stdio")
