"""Fake azure-identity credentials implementing the azure-core protocols, without a network."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from typing_extensions import Self


class _AsyncContext:
    """The ``AsyncContextManager`` part of azure-core's async credential protocols."""

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


class SyncCredential:
    """``TokenCredential``: a blocking ``get_token`` (azure-identity's sync credentials)."""

    def __init__(self, lifetime: int = 3600, clock: Any = None, fail: bool = False) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.threads: list[int] = []
        self.lifetime = lifetime
        self.now = clock or (lambda: 1_000_000.0)
        self.fail = fail

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.calls.append(scopes)
        self.threads.append(threading.get_ident())
        if self.fail:
            raise RuntimeError("DefaultAzureCredential failed: Bearer leaked-secret-123 rejected")
        return AccessToken(f"sync-token-{len(self.calls)}", int(self.now()) + self.lifetime)


class AsyncCredential(_AsyncContext):
    """``AsyncTokenCredential``: ``async def get_token`` (azure.identity.aio)."""

    def __init__(self, lifetime: int = 3600, clock: Any = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.lifetime = lifetime
        self.now = clock or (lambda: 1_000_000.0)

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.calls.append(scopes)
        return AccessToken(f"async-token-{len(self.calls)}", int(self.now()) + self.lifetime)


class InfoCredential:
    """``SupportsTokenInfo``: ``get_token_info`` with a ``refresh_on`` hint (azure-core >= 1.31)."""

    def __init__(self, expires_in: int, refresh_in: int | None, clock: Any) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.refresh_in = refresh_in
        self.now = clock

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise AssertionError("get_token_info must be preferred")

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        self.calls += 1
        now = int(self.now())
        refresh_on = now + self.refresh_in if self.refresh_in is not None else None
        return AccessTokenInfo(
            f"info-token-{self.calls}", now + self.expires_in, refresh_on=refresh_on
        )


class AsyncInfoCredential(_AsyncContext):
    """``AsyncSupportsTokenInfo``."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo("async-info-token", 2_000_000_000)


class Clock:
    """A settable clock in epoch seconds."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
