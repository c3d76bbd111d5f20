"""Credentials for the WebSocket handshake.

Every credential implements one coroutine, :meth:`Credential.authorize`, which returns the
headers and query parameters to put on the *next* handshake. It is called at every connect and
reconnect, so a rotating credential (an Entra ID token) is always fresh while a static one costs
nothing. Three kinds ship with agentkit:

=================  ==========================================  ================================
class              sends                                       use for
=================  ==========================================  ================================
:class:`ApiKey`    ``api-key: <key>`` header, or ``?api-key=``  Azure OpenAI API keys
:class:`BearerKey` ``Authorization: Bearer <key>``             OpenAI keys, ephemeral ``ek_``
                                                               keys, a token you manage
:class:`EntraToken` ``Authorization: Bearer <token>``          Microsoft Entra ID through any
                                                               azure-identity credential
=================  ==========================================  ================================

:func:`as_credential` turns what a user passes (a string, an azure-identity credential, one of
the above or ``None``) into a :class:`Credential`. Secrets are held in
:class:`~agentkit._redact.Secret`, so every ``repr`` here shows ``'***'``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from azure.core.exceptions import ClientAuthenticationError

from agentkit._redact import MASK, Secret, redact
from agentkit.errors import ConfigurationError, ConnectionFailedError, CredentialError

if TYPE_CHECKING:
    from azure.core.credentials import SupportsTokenInfo, TokenCredential
    from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential

__all__ = [
    "ENTRA_SCOPE",
    "ApiKey",
    "AuthParts",
    "BearerKey",
    "Credential",
    "CredentialLike",
    "EntraToken",
    "as_credential",
]

logger = logging.getLogger(__name__)

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
"""The OAuth scope of Azure OpenAI / Azure AI Foundry (role: Cognitive Services OpenAI User)."""

_MESSAGE_LIMIT = 500

_HOW = (
    "Set AZURE_OPENAI_API_KEY to use the resource's key, or sign in with `az login`, or run "
    'where a managed identity is assigned; the identity needs the "Cognitive Services OpenAI '
    'User" role on the resource.'
)

TokenProvider: TypeAlias = (
    "TokenCredential | AsyncTokenCredential | SupportsTokenInfo | AsyncSupportsTokenInfo"
)
"""Any azure-identity credential, sync or async (duck-typed on ``get_token``/``get_token_info``)."""


@dataclass(frozen=True)
class AuthParts:
    """What a credential adds to one handshake.

    Attributes:
        headers: HTTP headers for the upgrade request (values are secrets).
        query: query parameters appended to the URL (values are secrets).
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        headers = {name: MASK for name in self.headers}
        query = {name: MASK for name in self.query}
        return f"AuthParts(headers={headers!r}, query={query!r})"


@runtime_checkable
class Credential(Protocol):
    """Produces the authentication for the next handshake.

    Implement this to plug in anything else (a key vault lookup, a token broker): agentkit calls
    ``authorize()`` once per connect, never caches its result, and never logs it.
    """

    async def authorize(self) -> AuthParts:
        """Return the headers and query parameters to authenticate one handshake."""
        ...


class ApiKey:
    """An Azure OpenAI API key.

    Args:
        key: the resource key (``AZURE_OPENAI_API_KEY``).
        in_query: send it as the ``api-key`` query parameter instead of the header. Browsers
            cannot set headers on a WebSocket, so Azure also accepts the key in the URL; it is
            encrypted under ``wss://`` but ends up in proxy logs, so prefer the header elsewhere.
    """

    def __init__(self, key: str, *, in_query: bool = False) -> None:
        if not key:
            raise ConfigurationError("ApiKey: the key is empty")
        self._key = Secret(key)
        self.in_query = in_query

    async def authorize(self) -> AuthParts:
        """Return the key as the ``api-key`` header or query parameter."""
        if self.in_query:
            return AuthParts(query={"api-key": self._key.reveal()})
        return AuthParts(headers={"api-key": self._key.reveal()})

    def __repr__(self) -> str:
        return f"ApiKey({MASK!r}, in_query={self.in_query})"


class BearerKey:
    """A static bearer credential: an OpenAI API key, an ephemeral ``ek_`` key, or a token.

    Args:
        key: the value sent as ``Authorization: Bearer <key>``.
    """

    def __init__(self, key: str) -> None:
        if not key:
            raise ConfigurationError("BearerKey: the key is empty")
        self._key = Secret(key)

    async def authorize(self) -> AuthParts:
        """Return the ``Authorization`` header."""
        return AuthParts(headers={"Authorization": f"Bearer {self._key.reveal()}"})

    def __repr__(self) -> str:
        return f"BearerKey({MASK!r})"


@dataclass
class _CachedToken:
    token: Secret
    expires_on: float
    refresh_at: float


class EntraToken:
    """Microsoft Entra ID through any azure-identity credential, with a token cache.

    The realtime handshake is authenticated once per socket, so a token only has to be valid
    when we connect. It is cached and fetched again when the credential's ``refresh_on`` hint
    (``get_token_info``) is reached or ``refresh_margin`` seconds before it expires, whichever is
    first. If a refresh fails while the cached token is still valid, the cached token is used
    and a warning logged: a flaky token endpoint should not break a reconnect.

    Args:
        credential: e.g. ``DefaultAzureCredential()`` (sync: ``get_token`` runs in a worker
            thread so the event loop never blocks) or its ``azure.identity.aio`` twin.
        scope: the OAuth scope; Azure OpenAI's by default.
        refresh_margin: seconds before expiry at which a cached token is replaced.
        clock: seconds since the epoch; injectable for tests.
    """

    def __init__(
        self,
        credential: TokenProvider,
        *,
        scope: str = ENTRA_SCOPE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (hasattr(credential, "get_token") or hasattr(credential, "get_token_info")):
            raise ConfigurationError(
                f"{type(credential).__name__} is not an azure-identity credential "
                "(it has neither get_token nor get_token_info)"
            )
        self.credential = credential
        self.scope = scope
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._cached: _CachedToken | None = None
        self._lock = asyncio.Lock()

    async def authorize(self) -> AuthParts:
        """Return ``Authorization: Bearer <token>``, fetching a token only when needed."""
        token = await self.token()
        return AuthParts(headers={"Authorization": f"Bearer {token}"})

    async def token(self) -> str:
        """Return a token valid for at least ``refresh_margin`` seconds (when possible)."""
        async with self._lock:  # concurrent reconnects share one fetch
            cached = self._cached
            now = self._clock()
            if cached is not None and now < cached.refresh_at:
                return cached.token.reveal()
            try:
                self._cached = await self._fetch()
            except Exception as exc:
                if cached is not None and now < cached.expires_on:
                    logger.warning(
                        "Entra ID token refresh failed, using the cached token: %s",
                        redact(str(exc)),
                    )
                    return cached.token.reveal()
                raise self._fetch_error(exc) from exc
            return self._cached.token.reveal()

    async def _fetch(self) -> _CachedToken:
        """Ask the credential for a token, preferring ``get_token_info`` (it has ``refresh_on``)."""
        get_info = getattr(self.credential, "get_token_info", None)
        if get_info is not None:
            info = await _call(get_info, self.scope)
            refresh_on = getattr(info, "refresh_on", None)
        else:
            info = await _call(self.credential.get_token, self.scope)
            refresh_on = None
        expires_on = float(info.expires_on)
        refresh_at = min(expires_on - self.refresh_margin, refresh_on or math.inf)
        logger.debug("fetched an Entra ID token for %s, expires at %d", self.scope, expires_on)
        return _CachedToken(Secret(info.token), expires_on, refresh_at)

    def _fetch_error(self, exc: Exception) -> ConnectionFailedError | CredentialError:
        """A refusal by the identity service is final; a network failure on the way is not."""
        source = type(self.credential).__name__
        if _found_no_sign_in(exc):
            return CredentialError(
                f"{source} found no usable sign-in for Microsoft Entra ID. {_HOW}"
            )
        lines = [line.strip() for line in redact(str(exc)).strip().splitlines()] or [""]
        detail = lines[0] if len(lines[0]) <= _MESSAGE_LIMIT else lines[0][:_MESSAGE_LIMIT] + "…"
        message = (
            f"could not get a Microsoft Entra ID token for {self.scope} from "
            f"{source}: {type(exc).__name__}: {detail}"
        )
        if isinstance(exc, ClientAuthenticationError):  # CredentialUnavailableError too
            return CredentialError(message)
        return ConnectionFailedError(message)

    def __repr__(self) -> str:
        return f"EntraToken({type(self.credential).__name__}, scope={self.scope!r})"


def _found_no_sign_in(exc: Exception) -> bool:
    """Whether no credential could even try: not signed in anywhere, no managed identity.

    A single credential says so with ``CredentialUnavailableError``; a chain such as
    ``DefaultAzureCredential`` with a ``ClientAuthenticationError`` listing every attempt.
    """
    from azure.identity import CredentialUnavailableError

    text = str(exc)
    return isinstance(exc, CredentialUnavailableError) or (
        isinstance(exc, ClientAuthenticationError)
        and "failed to retrieve a token from the included credentials" in text
    )


async def _call(method: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async credential method without blocking the event loop."""
    if inspect.iscoroutinefunction(method):
        return await method(*args)
    result = await asyncio.to_thread(method, *args)
    if inspect.isawaitable(result):
        return await result
    return result


CredentialLike: TypeAlias = "str | Credential | TokenProvider | None"
"""What endpoint constructors accept as ``credential``."""


def as_credential(
    value: CredentialLike, *, from_string: Callable[[str], Credential] = ApiKey
) -> Credential | None:
    """Normalise a user-supplied credential.

    Args:
        value: a key string, a :class:`Credential`, an azure-identity credential, or ``None``.
        from_string: what a bare string means for this endpoint (``ApiKey`` for Azure,
            ``BearerKey`` for OpenAI).

    Returns:
        A :class:`Credential`, or ``None`` when no authentication is wanted.

    Raises:
        ConfigurationError: for anything else, naming the type received.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return from_string(value)
    if isinstance(value, Credential):
        return value
    if hasattr(value, "get_token") or hasattr(value, "get_token_info"):
        return EntraToken(value)
    raise ConfigurationError(
        f"unsupported credential type {type(value).__name__}: pass an API key string, "
        "ApiKey, BearerKey, EntraToken or an azure-identity credential"
    )
