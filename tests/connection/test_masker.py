"""Masker: known secret values masked wherever they appear, on top of redact()'s patterns."""

from __future__ import annotations

import pickle

import pytest

from agentkit._redact import Masker

KEY = "azure-key-0123456789"


def test_masks_a_bare_value_and_credential_shapes() -> None:
    mask = Masker([KEY])
    text = (
        f"refused {KEY}\nAuthorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig\nsk-proj-abcdefghijklmnop"
    )
    assert mask(text) == "refused ***\nAuthorization: ***\nsk-***"


def test_longer_secrets_first_and_short_values_ignored() -> None:
    mask = Masker([KEY[:10], KEY, "", "abc"])
    assert mask(f"{KEY} {KEY[:10]} abc") == "*** *** abc"


def test_repr_and_pickle_reveal_nothing() -> None:
    mask = Masker([KEY])
    assert repr(mask) == "Masker(1 secrets)"
    with pytest.raises(TypeError):
        pickle.dumps(mask)
