"""The package root exports a small, sorted public API that really imports."""

from __future__ import annotations

import pytest

import agentkit
from agentkit.testing import Simulator


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


# -- what Session accepts as its endpoint -------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ("wss://example.com/openai/v1/realtime?model=x", "Endpoint.custom(url"),
        (Simulator(), "Endpoint.custom(sim.ga_url(), credential=sim.api_key)"),
        (42, "Endpoint.azure()"),
    ],
)
def test_a_non_endpoint_is_a_clear_type_error(wrong: object, hint: str) -> None:
    with pytest.raises(TypeError, match="expects an agentkit Endpoint") as raised:
        agentkit.Session(agentkit.Agent(), wrong)  # type: ignore[arg-type]
    assert hint in str(raised.value)
    assert type(wrong).__name__ in str(raised.value)
