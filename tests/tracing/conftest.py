from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tracing.otel import Telemetry


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    recorded = Telemetry()
    yield recorded
    recorded.shutdown()
