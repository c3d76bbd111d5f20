"""The test MCP server over stdio: ``python stdio_server.py NAME [MARKS_FILE [gated]]``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.mcp.servers import build

if __name__ == "__main__":
    marks = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    gated = sys.argv[3:4] == ["gated"]
    build(sys.argv[1], marks, gated=gated).run("stdio")
