"""The package root exports a small, sorted public API that really imports."""

from __future__ import annotations

import agentkit


def test_all_is_sorted_and_unique() -> None:
    names = [name for name in agentkit.__all__ if name != "__version__"]
    assert names == sorted(names)
    assert len(set(agentkit.__all__)) == len(agentkit.__all__)


def test_every_exported_name_exists() -> None:
    missing = [name for name in agentkit.__all__ if not hasattr(agentkit, name)]
    assert missing == []


def test_errors_share_one_root() -> None:
    errors = [getattr(agentkit, name) for name in agentkit.__all__ if name.endswith("Error")]
    assert errors and all(issubclass(error, agentkit.AgentkitError) for error in errors)
