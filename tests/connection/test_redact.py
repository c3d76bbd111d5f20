"""redact() is the one place secrets are masked: test it directly."""

from __future__ import annotations

import logging
import pickle

import pytest

from agentkit._redact import MASK, RedactingFilter, Secret, redact, redact_headers

KEY = "0123456789abcdef0123456789abcdef"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjb2duaXRpdmUifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"wss://r.openai.azure.com/openai/realtime?api-version=v&api-key={KEY}&deployment=d",
            "wss://r.openai.azure.com/openai/realtime?api-version=v&api-key=***&deployment=d",
        ),
        (f"https://acct.blob.core.windows.net/c/b?sv=2024&sig={KEY}", "?sv=2024&sig=***"),
        (f"ws://h/x?access_token={JWT}#frag", "ws://h/x?access_token=***#frag"),
        (f"Authorization: Bearer {KEY}", "Authorization: ***"),
        (f"{{'Authorization': 'Bearer {JWT}', 'x': 'y'}}", "{'Authorization': '***', 'x': 'y'}"),
        (f'{{"api-key": "{KEY}"}}', '{"api-key": "***"}'),
        (f"> api-key: {KEY}", "> api-key: ***"),
        (f"token rejected: bearer {KEY} is expired", "token rejected: bearer *** is expired"),
        (f"Incorrect API key provided: sk-proj-{KEY}.", "Incorrect API key provided: sk-***."),
        (f"ephemeral ek_{KEY}", "ephemeral ek_***"),
        (f"token {JWT} expired", "token *** expired"),
        (f"realtime, openai-insecure-api-key.{KEY}", "realtime, openai-insecure-api-key.***"),
        ("http://user:hunter2@proxy:3128", "http://user:***@proxy:3128"),
    ],
)
def test_redact_masks_secrets(text: str, expected: str) -> None:
    redacted = redact(text)
    assert expected in redacted
    assert KEY not in redacted and JWT not in redacted and "hunter2" not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "wss://res.openai.azure.com/openai/v1/realtime?model=gpt-realtime",
        "monkey=banana&model=x",
        "deployment 'gpt-realtime' not found (code=DeploymentNotFound)",
        "ws://127.0.0.1:8080/v1/realtime",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_is_idempotent() -> None:
    text = f"GET /x?api-key={KEY} Authorization: Bearer {KEY} sk-{KEY} user:pw@host"
    once = redact(text)
    assert redact(once) == once


def test_redact_headers_masks_credential_headers_only() -> None:
    headers = {"api-key": KEY, "Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}
    assert redact_headers(headers) == {
        "api-key": MASK,
        "Authorization": MASK,
        "OpenAI-Beta": "realtime=v1",
    }


def test_secret_never_shows_itself() -> None:
    secret = Secret(KEY)
    logged = "%s" % secret  # noqa: UP031 - what a %-style log call does
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", logged, repr([secret])]
    assert all(KEY not in text for text in shown)
    assert secret.reveal() == KEY
    assert secret == Secret(KEY) and secret != Secret("other") and secret != KEY
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_redacting_filter_rewrites_formatted_message(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.connection.redact")
    log.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=log.name):
        log.debug("> %s: %s", "Authorization", f"Bearer {KEY}")
        log.debug("> GET %s HTTP/1.1", f"/openai/realtime?api-key={KEY}")
    assert KEY not in caplog.text
    assert "Authorization: ***" in caplog.text and "api-key=***" in caplog.text
