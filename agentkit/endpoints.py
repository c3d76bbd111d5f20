"""Where to connect: Azure GA, Azure preview, OpenAI, or any URL (simulator, proxy).

An :class:`Endpoint` is a value: a base URL without secrets, the :class:`Dialect` that URL
speaks, fixed extra headers and a :class:`~agentkit.auth.Credential`. At each connect and
reconnect :meth:`Endpoint.handshake` asks the credential for fresh authentication and returns
the exact URL and headers to use. Nothing here does network I/O except that credential call.

URLs built (as in the Azure OpenAI Realtime API reference and OpenAI's Realtime API guide):

* Azure GA:       ``wss://RES.openai.azure.com/openai/v1/realtime?model=DEPLOYMENT``
* Azure preview:  ``wss://RES.openai.azure.com/openai/realtime?api-version=V&deployment=DEPLOYMENT``
* OpenAI:         ``wss://api.openai.com/v1/realtime?model=MODEL`` (+ ``OpenAI-Beta: realtime=v1``
  for the beta dialect)
* custom:         the URL as given.
* a call's sideband: the GA URL with ``call_id=CALL`` for ``model=`` (:meth:`Endpoint.sideband`).

Each endpoint also knows its *model family* when it can be known, for the checks of
:mod:`agentkit.models`: an OpenAI URL's ``model=`` is the model; an Azure deployment has a name
of its owner's choosing, so its family is only what the user states (``model=`` or
``AZURE_OPENAI_MODEL``), never guessed from that name.

Environment variables read by :meth:`Endpoint.from_env` are listed there and in docs/azure.md.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from agentkit._redact import MASK, redact, redact_headers
from agentkit.auth import ApiKey, BearerKey, Credential, CredentialLike, as_credential
from agentkit.errors import ConfigurationError, MissingSettingError
from agentkit.models import ModelProfile, profile_for
from agentkit.protocol.dialects import Dialect

__all__ = [
    "DEFAULT_OPENAI_MODEL",
    "ENV_VARS",
    "Endpoint",
    "EndpointKind",
    "Handshake",
    "configured_variables",
]

logger = logging.getLogger(__name__)

EndpointKind = Literal["azure", "openai", "custom"]

DEFAULT_OPENAI_MODEL = "gpt-realtime"
OPENAI_BASE_URL = "wss://api.openai.com/v1"

ENV_VARS: Mapping[str, str] = {
    "AGENTKIT_REALTIME_URL": "a full ws(s):// URL; wins over everything (simulator, proxy)",
    "AZURE_OPENAI_ENDPOINT": "https://RESOURCE.openai.azure.com; selects Azure",
    "AZURE_OPENAI_DEPLOYMENT": "the realtime deployment name (alias AZURE_OPENAI_DEPLOYMENT_NAME)",
    "AZURE_OPENAI_MODEL": "the model behind the deployment or AGENTKIT_REALTIME_URL, e.g. "
    "gpt-realtime-2: turns on the model's option checks",
    "AZURE_OPENAI_API_KEY": "the resource key; without it, DefaultAzureCredential is used",
    "AZURE_OPENAI_REALTIME_API_VERSION": "an api-version: selects the preview protocol",
    "AZURE_OPENAI_API_VERSION": "used like the above only if it ends in -preview",
    "OPENAI_API_KEY": "selects OpenAI when AZURE_OPENAI_ENDPOINT is unset",
    "OPENAI_REALTIME_MODEL": f"the OpenAI model (default {DEFAULT_OPENAI_MODEL})",
    "OPENAI_BASE_URL": f"the OpenAI API base URL (default {OPENAI_BASE_URL})",
}
"""Every environment variable :meth:`Endpoint.from_env` reads, with what it means."""

_KNOWN_VARS = frozenset(ENV_VARS) | {"AZURE_OPENAI_DEPLOYMENT_NAME"}

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True)
class Handshake:
    """The URL and headers for one WebSocket upgrade; both may hold secrets.

    Its ``repr`` is redacted, so it is safe in tracebacks and debug logs.
    """

    url: str
    headers: dict[str, str]

    def __repr__(self) -> str:
        return f"Handshake(url={redact(self.url)!r}, headers={redact_headers(self.headers)!r})"


@dataclass(frozen=True, repr=False)
class Endpoint:
    """A realtime endpoint: URL, dialect, credential. Build it with a classmethod.

    Attributes:
        url: the ``ws://``/``wss://`` URL without any credential agentkit adds.
        dialect: the protocol vocabulary this URL speaks.
        kind: ``"azure"``, ``"openai"`` or ``"custom"``.
        credential: produces the authentication for each handshake, or ``None``.
        headers: extra fixed headers (``OpenAI-Beta`` for the beta dialect, proxy headers...).
        allow_insecure: whether plain ``ws://`` to a non-loopback host was explicitly allowed.
        model: the model family behind the URL (``gpt-realtime-2``...), or ``None`` when not
            known; it selects the :attr:`model_profile`.
    """

    url: str
    dialect: Dialect
    kind: EndpointKind = "custom"
    credential: Credential | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    allow_insecure: bool = False
    model: str | None = None

    def __post_init__(self) -> None:
        _check_url(self.url, allow_insecure=self.allow_insecure)

    @classmethod
    def azure(
        cls,
        endpoint: str,
        deployment: str,
        credential: CredentialLike = None,
        api_version: str | None = None,
        *,
        allow_insecure: bool = False,
        model: str | None = None,
    ) -> Endpoint:
        """An Azure OpenAI (or Azure AI Foundry) realtime deployment.

        Args:
            endpoint: the resource URL, e.g. ``https://RES.openai.azure.com``. ``wss://``, no
                scheme, and a URL copied with the service's path (``/openai/...``, which is
                dropped) are accepted; a path before ``/openai`` is kept, for API Management
                front ends. A query is refused, with the accepted form in the message.
            deployment: the deployment name (not the model name).
            credential: an API key string (sent as ``api-key``), :class:`~agentkit.auth.ApiKey`
                (``in_query=True`` for the browser style), an azure-identity credential such as
                ``DefaultAzureCredential()``, or any :class:`~agentkit.auth.Credential`.
            api_version: ``None`` for the GA protocol (``/openai/v1/realtime``, no api-version:
                Azure refuses GA with one); a version such as ``"2025-04-01-preview"`` for the
                deprecated preview protocol.
            allow_insecure: allow ``ws://``/``http://`` to a non-loopback host.
            model: the model the deployment runs (``gpt-realtime-2``...), stated once so that
                options it does not take fail before connecting; ``None``: no checks.

        Raises:
            MissingSettingError: ``endpoint``, ``deployment`` or ``credential`` is empty.
            ConfigurationError: the URL is not usable.
        """
        _require(endpoint, "endpoint (AZURE_OPENAI_ENDPOINT)", "https://RESOURCE.openai.azure.com")
        _require(deployment, "deployment (AZURE_OPENAI_DEPLOYMENT)", "the deployment name")
        if credential is None:
            raise MissingSettingError(
                "credential (AZURE_OPENAI_API_KEY)",
                "pass an API key or an azure-identity credential such as DefaultAzureCredential()",
            )
        base = _azure_base(endpoint)
        if api_version:
            query = urlencode({"api-version": api_version, "deployment": deployment})
            url, dialect = f"{base}/openai/realtime?{query}", Dialect.PREVIEW
        else:
            url, dialect = f"{base}/openai/v1/realtime?model={quote(deployment)}", Dialect.GA
        return cls(
            url=url,
            dialect=dialect,
            kind="azure",
            credential=as_credential(credential, from_string=ApiKey),
            allow_insecure=allow_insecure,
            model=model or None,
        )

    @classmethod
    def openai(
        cls,
        model: str = DEFAULT_OPENAI_MODEL,
        api_key: CredentialLike = None,
        beta: bool = False,
        *,
        base_url: str = OPENAI_BASE_URL,
        allow_insecure: bool = False,
    ) -> Endpoint:
        """The OpenAI platform.

        Args:
            model: the realtime model, e.g. ``gpt-realtime``.
            api_key: the API key or an ephemeral ``ek_`` key (sent as a bearer token), or any
                :class:`~agentkit.auth.Credential`. Not read from the environment here: use
                :meth:`from_env` for that.
            beta: speak the beta protocol (sends ``OpenAI-Beta: realtime=v1``).
            base_url: the API base (``https://`` is turned into ``wss://``).
            allow_insecure: allow ``ws://`` to a non-loopback host.

        Raises:
            MissingSettingError: no ``api_key``.
        """
        _require(model, "model (OPENAI_REALTIME_MODEL)", "e.g. gpt-realtime")
        if api_key is None:
            raise MissingSettingError("api_key (OPENAI_API_KEY)", "your OpenAI API key")
        url = f"{_ws_url(base_url).rstrip('/')}/realtime?model={quote(model)}"
        return cls(
            url=url,
            dialect=Dialect.PREVIEW if beta else Dialect.GA,
            kind="openai",
            credential=as_credential(api_key, from_string=BearerKey),
            headers={"OpenAI-Beta": "realtime=v1"} if beta else {},
            allow_insecure=allow_insecure,
            model=model,
        )

    @classmethod
    def custom(
        cls,
        url: str,
        credential: CredentialLike = None,
        dialect: Dialect | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        allow_insecure: bool = False,
        model: str | None = None,
    ) -> Endpoint:
        """Any realtime-compatible URL: the agentkit simulator, a proxy, a gateway.

        Args:
            url: the full ``ws://``/``wss://`` URL (``http(s)://`` is converted).
            credential: as for :meth:`azure`; a bare string is sent as an ``api-key`` header
                when the path looks like Azure's (contains ``/openai/``), else as a bearer key.
            dialect: the protocol; inferred when ``None``: ``PREVIEW`` if the query has an
                ``api-version`` or the path ends in ``/openai/realtime``, else ``GA``.
            headers: extra headers sent on every handshake.
            allow_insecure: allow ``ws://`` to a non-loopback host.
            model: the model family behind the URL. When ``None``, an OpenAI-shaped URL's
                ``model=`` is taken; an Azure-shaped one (``/openai/`` in the path) names a
                deployment, so its family stays unknown and nothing is checked.
        """
        _require(url, "url (AGENTKIT_REALTIME_URL)", "ws://127.0.0.1:PORT/v1/realtime?model=M")
        ws_url = _ws_url(url)
        path = urlsplit(ws_url).path
        from_string = ApiKey if "/openai/" in f"{path}/" else BearerKey
        return cls(
            url=ws_url,
            dialect=dialect or infer_dialect(ws_url),
            kind="custom",
            credential=as_credential(credential, from_string=from_string),
            headers=dict(headers or {}),
            allow_insecure=allow_insecure,
            model=model or _openai_url_model(ws_url),
        )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, allow_insecure: bool = False
    ) -> Endpoint:
        """Build an endpoint from environment variables (see :data:`ENV_VARS`).

        Precedence: ``AGENTKIT_REALTIME_URL`` (custom), then ``AZURE_OPENAI_ENDPOINT`` (Azure),
        then ``OPENAI_API_KEY`` (OpenAI). Empty values count as unset. On Azure without
        ``AZURE_OPENAI_API_KEY``, ``azure.identity.DefaultAzureCredential`` is used, so
        ``az login`` or a managed identity just works.

        Args:
            environ: the variables; ``os.environ`` when ``None``.
            allow_insecure: allow ``ws://`` to a non-loopback host.

        Raises:
            MissingSettingError: naming the variable that is needed, and any variable that is set
                but not read because it is misspelt (``AZURE_OPENAI_KEY``...).
        """
        env = _Env(os.environ if environ is None else environ)
        if url := env.get("AGENTKIT_REALTIME_URL"):
            key = env.get("AZURE_OPENAI_API_KEY") or env.get("OPENAI_API_KEY")
            model = env.get("AZURE_OPENAI_MODEL")
            return cls.custom(url, key, allow_insecure=allow_insecure, model=model)
        if endpoint := env.get("AZURE_OPENAI_ENDPOINT"):
            return cls._azure_from_env(env, endpoint, allow_insecure=allow_insecure)
        if key := env.get("OPENAI_API_KEY"):
            return cls.openai(
                model=env.get("OPENAI_REALTIME_MODEL") or DEFAULT_OPENAI_MODEL,
                api_key=key,
                base_url=env.get("OPENAI_BASE_URL") or OPENAI_BASE_URL,
                allow_insecure=allow_insecure,
            )
        raise _nothing_selected(env)

    @classmethod
    def _azure_from_env(cls, env: _Env, endpoint: str, *, allow_insecure: bool) -> Endpoint:
        _azure_base(endpoint)  # a pasted URL names its deployment: say so before it is missed
        deployment = env.get("AZURE_OPENAI_DEPLOYMENT") or env.get("AZURE_OPENAI_DEPLOYMENT_NAME")
        if not deployment:
            raise MissingSettingError(
                "AZURE_OPENAI_DEPLOYMENT",
                "the name of your realtime deployment, e.g. gpt-realtime" + _lookalike_notes(env),
            )
        credential: CredentialLike = env.get("AZURE_OPENAI_API_KEY")
        if not credential:
            credential = _default_azure_credential()
        return cls.azure(
            endpoint,
            deployment,
            credential,
            api_version=_preview_version(env),
            allow_insecure=allow_insecure,
            model=env.get("AZURE_OPENAI_MODEL"),
        )

    @property
    def model_profile(self) -> ModelProfile | None:
        """What the endpoint's model accepts (see :mod:`agentkit.models`); ``None`` when the
        model is not stated or not known, and then nothing is checked.

        Only OpenAI checks input transcription models: elsewhere the field may name an Azure
        deployment.
        """
        profile = profile_for(self.model)
        if profile is not None and self.kind != "openai":
            profile = replace(profile, transcription_models=None)
        return profile

    @property
    def redacted_url(self) -> str:
        """The URL as it will be requested, with every credential shown as ``***``."""
        if isinstance(self.credential, ApiKey) and self.credential.in_query:
            return _with_query(redact(self.url), {"api-key": MASK})
        return redact(self.url)

    def sideband(self, call_id: str) -> Endpoint:
        """This endpoint's control socket for a call that a browser (WebRTC) or a phone (SIP)
        carries: the same service and credential, with ``?call_id=`` instead of the model.

        Raises:
            MissingSettingError: ``call_id`` is empty.
            ConfigurationError: the endpoint speaks the preview protocol, which has no sideband.
        """
        _require(call_id, "call_id", "the id the service gave the call (webhook or Location)")
        if self.dialect is not Dialect.GA:
            raise ConfigurationError("a sideband needs the GA protocol (/v1/realtime)")
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("model", "call_id")]
        query.append(("call_id", call_id.strip()))
        return replace(self, url=urlunsplit((*parts[:3], urlencode(query), "")))

    async def handshake(self) -> Handshake:
        """Return the URL and headers for the next connect, with fresh credentials.

        Called once per connect and reconnect: Entra tokens are refreshed when near expiry,
        sync credentials run in a worker thread, and Azure gets a new
        ``x-ms-client-request-id`` (quote it in support tickets).
        """
        headers = dict(self.headers)
        url = self.url
        if self.credential is not None:
            auth = await self.credential.authorize()
            headers.update(auth.headers)
            url = _with_query(url, auth.query)
        if self.kind == "azure":
            headers["x-ms-client-request-id"] = str(uuid.uuid4())
        return Handshake(url=url, headers=headers)

    def __repr__(self) -> str:
        model = f", model={self.model!r}" if self.model else ""
        return (
            f"Endpoint(kind={self.kind!r}, url={self.redacted_url!r}{model}, "
            f"dialect={self.dialect.name}, credential={self.credential!r})"
        )


def infer_dialect(url: str) -> Dialect:
    """Guess the dialect of a URL: ``api-version`` or ``/openai/realtime`` means preview."""
    parts = urlsplit(url)
    if any(name == "api-version" for name, _ in parse_qsl(parts.query)):
        return Dialect.PREVIEW
    return Dialect.PREVIEW if parts.path.rstrip("/").endswith("/openai/realtime") else Dialect.GA


def _openai_url_model(url: str) -> str | None:
    """The ``model=`` of an OpenAI-shaped URL; ``None`` for Azure's, where it is a deployment."""
    parts = urlsplit(url)
    if "/openai/" in f"{parts.path}/":
        return None
    return dict(parse_qsl(parts.query)).get("model") or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configured_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The set variables that show an endpoint was meant to be configured.

    These are the variables :meth:`Endpoint.from_env` reads, plus look-alikes it would ignore
    (``AZURE_OPENAI_KEY``, ``AZURE_OPENAI_ENDPIONT``, any other ``AZURE_OPENAI_*``).
    ``agentkit run`` falls back to the simulator only when this list is empty: partial or
    misspelt settings are an error there, not a silent switch to scripted answers.
    """
    env = _Env(os.environ if environ is None else environ)
    return sorted(name for name in env.names() if name in _KNOWN_VARS or _is_lookalike(name))


class _Env:
    """Environment lookup where an empty or blank value counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def names(self) -> list[str]:
        """The names whose value is set and not blank."""
        return [name for name, value in self._environ.items() if value.strip()]


def _is_lookalike(name: str) -> bool:
    return name not in _KNOWN_VARS and (
        name.startswith("AZURE_OPENAI_") or _closest_known(name) is not None
    )


def _closest_known(name: str) -> str | None:
    matches = difflib.get_close_matches(name, sorted(_KNOWN_VARS), n=1, cutoff=0.8)
    return matches[0] if matches else None


def _lookalike_notes(env: _Env) -> str:
    """``"; AZURE_OPENAI_KEY is set but not read: did you mean AZURE_OPENAI_API_KEY?"``..."""
    notes = []
    for name in sorted(filter(_is_lookalike, env.names())):
        guess = _closest_known(name)
        notes.append(f"{name} is set but not read" + (f": did you mean {guess}?" if guess else ""))
    return "".join(f"; {note}" for note in notes)


def _nothing_selected(env: _Env) -> MissingSettingError:
    """Name what is missing, given what is set (a key without its endpoint, a misspelling)."""
    known = [name for name in sorted(_KNOWN_VARS) if env.get(name)]
    notes = _lookalike_notes(env)
    azure = [name for name in known if name.startswith("AZURE_OPENAI_")]
    if azure:
        deployment = "" if "AZURE_OPENAI_DEPLOYMENT" in azure else ", with AZURE_OPENAI_DEPLOYMENT"
        return MissingSettingError(
            "AZURE_OPENAI_ENDPOINT",
            f"{_are_set(azure)}, but not AZURE_OPENAI_ENDPOINT: set it to "
            f"https://RESOURCE.openai.azure.com{deployment}{notes}",
        )
    if known:
        return MissingSettingError("OPENAI_API_KEY", f"{_are_set(known)}, but not it{notes}")
    return MissingSettingError(
        "AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY",
        "set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT for Azure, "
        f"or OPENAI_API_KEY for OpenAI{notes}",
    )


def _are_set(names: list[str]) -> str:
    return f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} set"


def _preview_version(env: _Env) -> str | None:
    """The preview api-version, if the environment asks for the preview protocol.

    ``AZURE_OPENAI_API_VERSION`` is often set for chat completions (``2024-10-21``); the
    realtime preview only exists under ``-preview`` versions, so only those select it.
    """
    if version := env.get("AZURE_OPENAI_REALTIME_API_VERSION"):
        return version
    version = env.get("AZURE_OPENAI_API_VERSION")
    if version and version.endswith("-preview"):
        return version
    if version:
        logger.debug("ignoring AZURE_OPENAI_API_VERSION=%s for realtime (GA has none)", version)
    return None


def _default_azure_credential() -> CredentialLike:
    """``DefaultAzureCredential`` (the sync one: the async one needs aiohttp)."""
    from azure.identity import DefaultAzureCredential

    logger.debug("AZURE_OPENAI_API_KEY is not set: using DefaultAzureCredential")
    return DefaultAzureCredential()


def _require(value: str, setting: str, hint: str) -> None:
    if not value or not value.strip():
        raise MissingSettingError(setting, hint)


def _ws_url(url: str) -> str:
    """Map ``https``/``http`` to ``wss``/``ws``; refuse other schemes."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    mapped = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(scheme.lower())
    if not sep or mapped is None:
        raise ConfigurationError(f"not a ws://, wss:// or https:// URL: {redact(url)!r}")
    return f"{mapped}://{rest}"


def _azure_base(endpoint: str) -> str:
    """The resource URL: ``https://RES.openai.azure.com/openai/v1/`` -> ``wss://RES.openai.azure.com``.

    Everything from an ``/openai`` path segment on is the service's own path (a URL copied from
    the portal or from a chat-completions sample), so it is dropped instead of being doubled;
    a path before it (an API Management front end) is kept. A query is refused, with the
    accepted form in the message: it may carry an api-version or a deployment meant elsewhere.
    """
    text = endpoint.strip()
    if "://" not in text and " " not in text:  # res.openai.azure.com
        text = f"https://{text}"
    parts = urlsplit(_ws_url(text))
    segments = parts.path.rstrip("/").split("/")
    path = "/".join(segments[: segments.index("openai")]) if "openai" in segments else parts.path
    base = urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))
    if parts.query or parts.fragment:
        raise ConfigurationError(_query_refusal(endpoint, base, parts.path, parts.query))
    if path != parts.path.rstrip("/"):
        logger.debug("Azure endpoint %s: using the resource URL %s", redact(endpoint), base)
    return base


def _query_refusal(endpoint: str, base: str, path: str, query: str) -> str:
    accepted = "https" + base[len("wss") :] if base.startswith("wss") else "http" + base[2:]
    deployment = dict(parse_qsl(query)).get("deployment")
    segments = path.split("/")
    if "deployments" in segments[:-1]:
        deployment = segments[segments.index("deployments") + 1]
    hint = f", and the deployment {deployment!r} as AZURE_OPENAI_DEPLOYMENT" if deployment else ""
    return (
        f"the Azure endpoint is the resource URL without a query: use {accepted!r}{hint} "
        f"(got {redact(endpoint.strip())!r})"
    )


def _with_query(url: str, params: Mapping[str, str]) -> str:
    if not params:
        return url
    separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urlencode(params, safe='*')}"


def _check_url(url: str, *, allow_insecure: bool) -> None:
    """Refuse malformed URLs and plain ``ws://`` off this machine (credentials in clear)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigurationError(f"invalid URL {redact(url)!r}: {exc}") from exc
    if parts.scheme not in ("ws", "wss") or not host:
        raise ConfigurationError(f"not a ws:// or wss:// URL with a host: {redact(url)!r}")
    if parts.scheme == "ws" and not allow_insecure and not is_loopback(host):
        raise ConfigurationError(
            f"refusing unencrypted ws:// to {host}: use wss:// (https://), or, if this network "
            "is trusted, pass allow_insecure=True (agentkit run: --allow-insecure)"
        )
