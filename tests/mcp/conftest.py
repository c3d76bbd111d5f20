"""Skip this directory when the optional ``mcp`` extra is not installed."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")
