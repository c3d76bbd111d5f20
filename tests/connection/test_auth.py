"""Credentials: what each one puts on the handshake, and the Entra token cache."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from agentkit.auth import (
    ENTRA_SCOPE,
    ApiKey,
    AuthParts,
    BearerKey,
    Credential,
    EntraToken,
    as_credential,
)
from agentkit.errors import ConfigurationError, ConnectionFailedError, CredentialError
from tests.connection.fakes import (
    AsyncCredential,
    AsyncInfoCredential,
    Clock,
    InfoCredential,
    SyncCredential,
)
from tests.connection.offline_identity import make_offline
from tests.support import TIMEOUT

KEY = "azure-key-0123456789"


async def test_api_key_goes_in_the_header_by_default() -> None:
    parts = await ApiKey(KEY).authorize()
    assert parts.headers == {"api-key": KEY} and parts.query == {}


async def test_api_key_in_query_is_the_browser_style() -> None:
    parts = await ApiKey(KEY, in_query=True).authorize()
    assert parts.query == {"api-key": KEY} and parts.headers == {}


async def test_bearer_key_sets_authorization() -> None:
    parts = await BearerKey("sk-test").authorize()
    assert parts.headers == {"Authorization": "Bearer sk-test"}


@pytest.mark.parametrize("make", [ApiKey, BearerKey])
def test_empty_keys_are_refused(make: type[ApiKey] | type[BearerKey]) -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        make("")


def test_reprs_hide_secrets() -> None:
    parts = AuthParts(headers={"api-key": KEY}, query={"api-key": KEY})
    for text in (repr(ApiKey(KEY)), repr(BearerKey(KEY)), repr(parts), str(parts)):
        assert KEY not in text and "***" in text


async def test_sync_credential_runs_off_the_event_loop_with_the_cognitive_scope() -> None:
    credential = SyncCredential()
    parts = await EntraToken(credential).authorize()
    assert parts.headers == {"Authorization": "Bearer sync-token-1"}
    assert credential.calls == [(ENTRA_SCOPE,)]
    assert ENTRA_SCOPE == "https://cognitiveservices.azure.com/.default"
    assert credential.threads != [threading.get_ident()]


async def test_async_credential_is_awaited() -> None:
    credential = AsyncCredential()
    assert await EntraToken(credential).token() == "async-token-1"
    assert credential.calls == [(ENTRA_SCOPE,)]


async def test_async_get_token_info_is_used() -> None:
    credential = AsyncInfoCredential()
    assert await EntraToken(credential, scope="api://x/.default").token() == "async-info-token"
    assert credential.scopes == [("api://x/.default",)]


async def test_token_is_cached_until_the_refresh_margin() -> None:
    clock = Clock()
    credential = SyncCredential(lifetime=3600, clock=clock)
    entra = EntraToken(credential, clock=clock)
    assert await entra.token() == "sync-token-1"
    clock.now += 3600 - 301
    assert await entra.token() == "sync-token-1"
    clock.now += 2  # now inside the 5 minute margin
    assert await entra.token() == "sync-token-2"
    assert len(credential.calls) == 2


async def test_refresh_on_hint_wins_when_earlier_than_the_margin() -> None:
    clock = Clock()
    credential = InfoCredential(expires_in=3600, refresh_in=600, clock=clock)
    entra = EntraToken(credential, clock=clock)
    assert await entra.token() == "info-token-1"
    clock.now += 599
    assert await entra.token() == "info-token-1"
    clock.now += 1
    assert await entra.token() == "info-token-2"


async def test_get_token_info_without_refresh_on_uses_the_margin() -> None:
    clock = Clock()
    entra = EntraToken(InfoCredential(3600, None, clock), clock=clock, refresh_margin=60)
    await entra.token()
    clock.now += 3539
    assert await entra.token() == "info-token-1"
    clock.now += 1
    assert await entra.token() == "info-token-2"


async def test_concurrent_reconnects_share_one_fetch() -> None:
    clock = Clock()
    credential = SyncCredential(clock=clock)
    entra = EntraToken(credential, clock=clock)
    tokens = await asyncio.wait_for(asyncio.gather(*(entra.token() for _ in range(5))), TIMEOUT)
    assert set(tokens) == {"sync-token-1"} and len(credential.calls) == 1


async def test_fetch_failure_is_a_redacted_connection_failure() -> None:
    entra = EntraToken(SyncCredential(fail=True))
    with pytest.raises(ConnectionFailedError) as info:
        await entra.token()
    message = str(info.value)
    assert "Entra ID token" in message and "SyncCredential" in message
    assert "leaked-secret-123" not in message
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_failed_refresh_falls_back_to_a_still_valid_token() -> None:
    clock = Clock()
    credential = SyncCredential(lifetime=3600, clock=clock)
    entra = EntraToken(credential, clock=clock)
    await entra.token()
    clock.now += 3400  # in the refresh window, not expired
    credential.fail = True
    assert await entra.token() == "sync-token-1"
    clock.now += 200  # expired
    with pytest.raises(ConnectionFailedError):
        await entra.token()


def test_entra_token_repr_names_the_credential_not_the_token() -> None:
    assert repr(EntraToken(SyncCredential())) == (
        f"EntraToken(SyncCredential, scope={ENTRA_SCOPE!r})"
    )


def test_entra_token_refuses_non_credentials() -> None:
    with pytest.raises(ConfigurationError, match="azure-identity"):
        EntraToken(object())  # type: ignore[arg-type]


def test_as_credential_normalises_what_users_pass() -> None:
    assert as_credential(None) is None
    assert isinstance(as_credential("k"), ApiKey)
    assert isinstance(as_credential("k", from_string=BearerKey), BearerKey)
    key = ApiKey("k", in_query=True)
    assert as_credential(key) is key
    assert isinstance(as_credential(SyncCredential()), EntraToken)
    assert isinstance(as_credential(AsyncCredential()), EntraToken)
    assert isinstance(as_credential(AsyncInfoCredential()), EntraToken)
    with pytest.raises(ConfigurationError, match="unsupported credential type int"):
        as_credential(42)  # type: ignore[arg-type]


def test_builtin_credentials_satisfy_the_protocol() -> None:
    for credential in (ApiKey("k"), BearerKey("k"), EntraToken(SyncCredential())):
        assert isinstance(credential, Credential)


async def test_default_azure_credential_with_no_sign_in_gives_one_actionable_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from azure.identity import DefaultAzureCredential

    attempts = make_offline(monkeypatch, tmp_path)
    token = EntraToken(DefaultAzureCredential())
    with pytest.raises(CredentialError) as info:
        await asyncio.wait_for(token.token(), TIMEOUT)
    assert str(info.value) == (
        "DefaultAzureCredential found no usable sign-in for Microsoft Entra ID. "
        "Set AZURE_OPENAI_API_KEY to use the resource's key, or sign in with `az login`, or run "
        'where a managed identity is assigned; the identity needs the "Cognitive Services '
        'OpenAI User" role on the resource.'
    )
    assert "failed to retrieve a token" in str(info.value.__cause__)  # the details, chained
    assert attempts == []


async def test_a_refusal_keeps_its_first_line_whole() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class Refusing:
        def get_token(self, *scopes: str, **kwargs: object) -> object:
            raise ClientAuthenticationError("AADSTS700016: application not found. " * 12 + "\nx")

    with pytest.raises(CredentialError) as info:
        await EntraToken(Refusing()).token()
    message = str(info.value)
    assert message.endswith("AADSTS700016: application not found.") and "…" not in message
