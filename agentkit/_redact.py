"""Keeping secrets out of reprs, logs, exception texts and traces.

Two tools, both small on purpose:

* :class:`Secret` holds a credential so that printing or logging the holder shows ``'***'``;
  the value is only reachable through :meth:`Secret.reveal`, at the one place that builds a
  handshake.
* :func:`redact` is a pure ``str -> str`` function that masks anything that looks like a
  credential in free text: URL query values (``api-key=``, ``sig=``, ``token=``...),
  ``Authorization`` / ``api-key`` header values, ``Bearer`` tokens, OpenAI ``sk-``/``ek_`` keys,
  JWTs, URL passwords (``user:***@``) and the browser ``openai-insecure-api-key.``
  subprotocol. Every URL, server message and foreign exception text goes through it before
  it reaches an error or a log record.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "Masker", "RedactingFilter", "Secret", "redact", "redact_headers"]

MASK = "***"

# Query parameters whose value is a credential (Azure api-key, SAS sig, OAuth/openai-node tokens).
_SECRET_QUERY_NAMES = (
    r"api[-_]?key|key|sig|signature|token|access[-_]?token|id[-_]?token|refresh[-_]?token"
    r"|client[-_]?secret|secret|password|authorization"
)
_QUERY = re.compile(rf"(?i)(?<![\w-])((?:{_SECRET_QUERY_NAMES})=)[^&#\s'\"]+")
# Header lines or dict items: "Authorization: Bearer x", "'api-key': 'x'", "api-key=x" is above.
_HEADER = re.compile(
    r"(?i)((?:authorization|api-key|ocp-apim-subscription-key|x-api-key)['\"]?\s*[:=]\s*['\"]?)"
    r"(?!\*\*\*)[^\s'\"\r\n,}][^'\"\r\n,}]*"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)(?!\*\*\*)[\w.~+/=-]+")
_OPENAI_KEY = re.compile(r"\b((?:sk|ek)[-_])[\w-]{8,}")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_USERINFO = re.compile(r"(://[^/@\s:]*:)(?!\*\*\*@)[^/@\s]+(@)")
_SUBPROTOCOL_KEY = re.compile(r"(openai-insecure-api-key\.)[^\s,'\"]+")

_SENSITIVE_HEADERS = frozenset(
    {"authorization", "api-key", "ocp-apim-subscription-key", "x-api-key", "proxy-authorization"}
)


class Secret:
    """A credential string that never shows itself in ``repr``, ``str`` or f-strings.

    Why a wrapper and not a convention: a dataclass repr, a debugger, or a ``%r`` in a log call
    will print any attribute it finds. Holding the value in a ``Secret`` makes the safe
    behaviour the default and the leak (``.reveal()``) explicit and greppable.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call this only where the value goes onto the wire."""
        return self._value

    def __repr__(self) -> str:
        return repr(MASK)

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(
            other._value.encode(), self._value.encode()
        )

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Pickling would copy the secret into bytes that escape our control.
        raise TypeError("Secret cannot be pickled")


def redact(text: str) -> str:
    """Mask every credential-looking substring of ``text``.

    Pure and idempotent (``redact(redact(x)) == redact(x)``), so it is safe to apply at every
    boundary without tracking whether a string was already cleaned.

    Args:
        text: a URL, header dump, server message or exception text.

    Returns:
        The text with secret values replaced by ``***`` and their names kept, so the message
        still says *which* credential was involved (``api-key=***``, ``Bearer ***``).
    """
    text = _USERINFO.sub(rf"\g<1>{MASK}\g<2>", text)
    text = _SUBPROTOCOL_KEY.sub(rf"\g<1>{MASK}", text)
    text = _QUERY.sub(rf"\g<1>{MASK}", text)
    text = _HEADER.sub(rf"\g<1>{MASK}", text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    text = _OPENAI_KEY.sub(rf"\g<1>{MASK}", text)
    return _JWT.sub(MASK, text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``headers`` with the values of credential headers replaced by ``***``."""
    return {
        name: MASK if name.lower() in _SENSITIVE_HEADERS else redact(value)
        for name, value in headers.items()
    }


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the fully formatted message of every record.

    Attached to the logger handed to ``websockets``, whose DEBUG output dumps the request line
    and headers of the handshake (``> Authorization: Bearer ...``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


class Masker:
    """Masks given secret values, and whatever :func:`redact` recognises, in any text.

    :func:`redact` finds credentials by their shape; a key quoted bare in a user's exception
    has none. Whoever knows the secrets (the command line reads them from the environment)
    masks output with this, as a last line: log lines, tracebacks, error messages.

    Args:
        secrets: the values to mask wherever they appear; values under 4 characters are
            ignored (masking every ``"a"`` would destroy the text and reveal little).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({value for value in secrets if len(value) >= 4}, key=len, reverse=True)
        self._secrets = tuple(Secret(value) for value in values)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret value and credential-looking substring masked."""
        for secret in self._secrets:
            text = text.replace(secret.reveal(), MASK)
        return redact(text)

    def __repr__(self) -> str:
        return f"Masker({len(self._secrets)} secrets)"
