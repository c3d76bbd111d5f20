"""Handshake refusals from a real local server map to the typed errors, redacted."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import traceback

import pytest

from agentkit.auth import ApiKey
from agentkit.endpoints import Endpoint
from agentkit.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    DeploymentNotFoundError,
    HandshakeError,
    RateLimitedError,
)
from agentkit.transport import connect, handshake_error, parse_retry_after, server_message
from tests.connection.server import local_server, raw_server
from tests.support import TIMEOUT

KEY = "query-key-0123456789abcdef"


async def _refused(status: int, **headers: str) -> HandshakeError:
    async with local_server() as (base, recorder):
        recorder.refuse = status
        recorder.extra_headers = headers
        endpoint = Endpoint.custom(f"{base}/openai/v1/realtime?model=d", ApiKey(KEY, in_query=True))
        with pytest.raises(HandshakeError) as info:
            await asyncio.wait_for(connect(endpoint), TIMEOUT)
    return info.value


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (401, AuthenticationError, "401"),
        (403, AuthenticationError, "PermissionDenied"),
        (404, DeploymentNotFoundError, "DeploymentNotFound"),
        (429, RateLimitedError, "429"),
        (500, HandshakeError, "InternalServerError"),
        (400, HandshakeError, "OperationNotSupported"),
    ],
)
async def test_status_maps_to_typed_error(
    status: int, error_type: type[HandshakeError], code: str
) -> None:
    error = await _refused(status)
    assert type(error) is error_type
    assert error.status == status
    assert error.server_message.startswith(f"{code}: ")
    assert error.url.endswith("?model=d&api-key=***")
    assert error.server_message in str(error) and f"HTTP {status}" in str(error)


async def test_errors_never_show_the_query_key_even_in_the_traceback() -> None:
    error = await _refused(401)
    rendered = "".join(traceback.format_exception(error))
    assert KEY not in rendered
    assert "InvalidStatus" in rendered  # chained with `from`
    assert error.__cause__ is not None


async def test_rate_limit_reads_retry_after_seconds() -> None:
    error = await _refused(429, **{"Retry-After": "7"})
    assert isinstance(error, RateLimitedError) and error.retry_after == 7.0


async def test_rate_limit_prefers_retry_after_ms() -> None:
    error = await _refused(429, **{"Retry-After": "7", "retry-after-ms": "1500"})
    assert isinstance(error, RateLimitedError) and error.retry_after == 1.5


async def test_rate_limit_without_hint() -> None:
    error = await _refused(429)
    assert isinstance(error, RateLimitedError) and error.retry_after is None


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: now) == 30.0
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=lambda: now) == 0.0


@pytest.mark.parametrize("value", ["soon", "-3", "nan", ""])
def test_retry_after_garbage_is_ignored(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error":{"code":"401","message":"Access denied."}}', "401: Access denied."),
        (b'{"error":{"type":"invalid_request_error","code":null,"message":"Bad."}}', "Bad."),
        (b'{"error":{"code":"NoMessage"}}', "NoMessage"),
        (b'{"error":"plain string"}', "plain string"),
        (b'{"message":"top level"}', "top level"),
        (b"<html>\n  Bad   Gateway </html>", "<html> Bad Gateway </html>"),
        (b"[1, 2]", "[1, 2]"),
        (b"", ""),
        (b'{"error":{"message":"Incorrect API key provided: sk-abcdefghijklmnop"}}', "sk-***"),
    ],
)
def test_server_message_extraction(body: bytes, message: str) -> None:
    assert message in server_message(body)


def test_server_message_is_truncated() -> None:
    text = server_message(b'{"error":{"message":"' + b"x" * 5000 + b'"}}', limit=100)
    assert len(text) == 100 and text.endswith("…")


def test_handshake_error_is_pure() -> None:
    error = handshake_error(403, {}, b"", url="wss://h/x")
    assert isinstance(error, AuthenticationError) and error.server_message == ""


async def test_non_http_answer_is_a_connection_failure() -> None:
    async with raw_server(b"garbage\r\n\r\n") as base:
        with pytest.raises(ConnectionFailedError) as info:
            await asyncio.wait_for(connect(Endpoint.custom(f"{base}/v1/realtime")), TIMEOUT)
    assert not isinstance(info.value, HandshakeError)
    assert info.value.__cause__ is not None


async def test_open_timeout_is_a_connection_failure() -> None:
    async with raw_server(None) as base:
        endpoint = Endpoint.custom(f"{base}/v1/realtime")
        with pytest.raises(ConnectionFailedError, match="TimeoutError"):
            await asyncio.wait_for(connect(endpoint, open_timeout=TIMEOUT / 50), TIMEOUT)


async def test_refused_port_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = Endpoint.custom(f"ws://127.0.0.1:{port}/v1/realtime", ApiKey(KEY, in_query=True))
    with pytest.raises(ConnectionFailedError) as info:
        await asyncio.wait_for(connect(endpoint), TIMEOUT)
    assert isinstance(info.value.__cause__, OSError)
    assert f"127.0.0.1:{port}" in str(info.value) and KEY not in str(info.value)


async def test_bad_proxy_is_a_configuration_error() -> None:
    endpoint = Endpoint.custom("ws://127.0.0.1:9/v1/realtime")
    proxy = "bogus://u:" + "pw-123@p"  # built so this source line shows no password
    with pytest.raises(ConfigurationError) as info:
        await asyncio.wait_for(connect(endpoint, proxy=proxy), TIMEOUT)
    rendered = "".join(traceback.format_exception(info.value))
    assert "pw-123" not in rendered
