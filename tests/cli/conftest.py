from __future__ import annotations

import pytest

from tests.cli.helpers import clear_settings


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings(monkeypatch)
