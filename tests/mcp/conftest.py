"""Without the optional ``mcp`` extra, only the tests that need no MCP SDK are collected."""

from __future__ import annotations

import importlib.util

_NEED_MCP = ["servers.py", "stdio_server.py", "test_mcp.py", "test_conversion.py"]
collect_ignore = [] if importlib.util.find_spec("mcp") else _NEED_MCP
