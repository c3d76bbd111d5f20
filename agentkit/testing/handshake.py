"""Handshake decisions, pure: which dialect a URL speaks, and whether its credentials pass.

Routes, as the service has them:

* ``/openai/v1/realtime?model=M`` - Azure GA; an ``api-version`` parameter fails with 401.
* ``/openai/realtime?api-version=V&deployment=D`` - Azure preview.
* ``/v1/realtime?model=M`` - OpenAI; GA, or preview with the ``OpenAI-Beta: realtime=v1`` header.

Anything else is 404.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from agentkit.testing.dialect import GA, PREVIEW, Dialect

__all__ = ["Refusal", "Route", "authorized", "route"]


@dataclass(frozen=True)
class Route:
    """An accepted handshake: the dialect and the model/deployment it asked for."""

    dialect: Dialect
    model: str


@dataclass(frozen=True)
class Refusal:
    """A refused handshake: the HTTP status and a short body."""

    status: int
    body: str


def route(target: str, headers: Mapping[str, str]) -> Route | Refusal:
    """Decide the dialect from the request target (path + query) and headers."""
    parts = urlsplit(target)
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    path = parts.path.rstrip("/")
    if path == "/openai/v1/realtime":
        if "api-version" in query:
            # Azure: the GA protocol refuses an api-version parameter with 401.
            return Refusal(401, "api-version is not allowed on the GA /openai/v1/realtime endpoint")
        return _model_route(GA, query.get("model"))
    if path == "/openai/realtime":
        if "api-version" not in query:
            return Refusal(400, "missing required query parameter: api-version")
        return _model_route(PREVIEW, query.get("deployment"))
    if path == "/v1/realtime":
        beta = headers.get("openai-beta", "").replace(" ", "") == "realtime=v1"
        return _model_route(PREVIEW if beta else GA, query.get("model"))
    return Refusal(404, f"no realtime endpoint at {parts.path}")


def _model_route(dialect: Dialect, model: str | None) -> Route | Refusal:
    if not model:
        return Refusal(400, "missing required query parameter: model or deployment")
    return Route(dialect, model)


def authorized(
    target: str,
    headers: Mapping[str, str],
    keys: Collection[str],
    accept_token: Callable[[str], bool] | None = None,
) -> bool:
    """Whether the handshake carries an accepted key (``api-key`` header or query parameter,
    ``Authorization: Bearer <key>``) or a token ``accept_token`` approves."""
    query = parse_qs(urlsplit(target).query)
    candidates = [headers.get("api-key", ""), *query.get("api-key", [])]
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    bearer = credential.strip() if scheme.lower() == "bearer" else ""
    if any(candidate in keys for candidate in candidates + [bearer] if candidate):
        return True
    return bool(bearer) and accept_token is not None and accept_token(bearer)
