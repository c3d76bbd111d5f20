"""Shared test helpers. Every wait in the suite derives from TIMEOUT, scaled by one env var."""

from __future__ import annotations

import os

TIMEOUT = 5.0 * float(os.environ.get("AGENTKIT_TEST_TIMEOUT_SCALE", "1"))
