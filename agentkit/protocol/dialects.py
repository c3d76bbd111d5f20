"""The two wire dialects of the Realtime API and the pure mappings between them."""

from __future__ import annotations

import enum

__all__ = ["Dialect"]


class Dialect(str, enum.Enum):
    """Which protocol vocabulary a socket speaks; chosen by the endpoint.

    ``GA`` is the generally available protocol (``/openai/v1/realtime``, OpenAI ``/v1/realtime``);
    ``PREVIEW`` is the beta/preview protocol (Azure ``/openai/realtime?api-version=``, or OpenAI with
    the ``OpenAI-Beta: realtime=v1`` header).
    """

    GA = "ga"
    PREVIEW = "preview"
