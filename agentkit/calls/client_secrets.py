"""Ephemeral client secrets: a browser talks to the service, the long-lived key stays home.

The application's server mints a short-lived secret (``POST /v1/realtime/client_secrets``,
on OpenAI, and on Azure's GA ``/openai/v1/realtime/client_secrets``) carrying the agent's
session configuration. Tools travel as declarations only: their code stays on the server, which
runs them over the call's sideband (:class:`~agentkit.calls.SidebandSession`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agentkit.agent import Agent
from agentkit.calls._http import api_base, post, refused
from agentkit.endpoints import Endpoint
from agentkit.errors import ConfigurationError, ProtocolError
from agentkit.protocol.dialects import Dialect, session_to_wire

__all__ = ["ClientSecret", "call_session", "mint_client_secret"]

MIN_EXPIRY = 10
MAX_EXPIRY = 7200


@dataclass(frozen=True, repr=False)
class ClientSecret:
    """A minted secret: hand :meth:`for_browser` to the browser, and nothing else.

    Attributes:
        value: the ephemeral key (``ek_...``); valid to open sessions until ``expires_at``.
        expires_at: unix time after which it opens no new session.
        session: the session configuration the service stored with it.
    """

    value: str
    expires_at: int
    session: dict[str, Any] = field(default_factory=dict)

    def for_browser(self) -> dict[str, Any]:
        """What a browser needs: the secret, its expiry and the model (never the API key)."""
        return {"value": self.value, "expires_at": self.expires_at, "model": self.model}

    @property
    def model(self) -> str | None:
        model = self.session.get("model")
        return model if isinstance(model, str) else None

    def __repr__(self) -> str:
        return f"ClientSecret(value='***', expires_at={self.expires_at}, model={self.model!r})"


def call_session(agent: Agent, endpoint: Endpoint) -> dict[str, Any]:
    """The agent's session configuration as the REST routes take it: ``type: realtime``, the
    URL's ``model=`` (an Azure deployment name on Azure), tools as declarations."""
    session = session_to_wire(agent.session_config(), Dialect.GA)
    session["type"] = "realtime"
    model = dict(parse_qsl(urlsplit(endpoint.url).query)).get("model") or endpoint.model
    if model:
        session.setdefault("model", model)
    return session


async def mint_client_secret(
    agent: Agent,
    endpoint: Endpoint,
    *,
    expires_after: int = 600,
    api_base_url: str | None = None,
    timeout: float = 10.0,
) -> ClientSecret:
    """Mint a client secret for a browser, configured as ``agent``.

    Args:
        agent: its instructions, voice and tool declarations become the session's.
        endpoint: the service and the long-lived credential (used here, never returned).
        expires_after: seconds the secret stays valid for opening sessions (10 to 7200).
        api_base_url: the REST base when it is not the endpoint's (a gateway, the simulator).
        timeout: seconds for the request.

    Raises:
        ConfigurationError: ``expires_after`` out of range, or a preview endpoint.
        CallRequestError: the service refused (bad key, unknown model...).
        ConnectionFailedError: the service could not be reached.
    """
    if not MIN_EXPIRY <= expires_after <= MAX_EXPIRY:
        raise ConfigurationError(
            f"expires_after must be {MIN_EXPIRY} to {MAX_EXPIRY} seconds, got {expires_after}"
        )
    body = {
        "expires_after": {"anchor": "created_at", "seconds": expires_after},
        "session": call_session(agent, endpoint),
    }
    url = f"{api_base(endpoint, api_base_url)}/client_secrets"
    reply = await post(endpoint, url, json.dumps(body).encode(), timeout=timeout)
    if reply.status != 200:
        raise refused("minting a client secret", reply)
    try:
        data = reply.json()
        return ClientSecret(str(data["value"]), int(data["expires_at"]), dict(data["session"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"unexpected client secret response: {type(exc).__name__}") from None
