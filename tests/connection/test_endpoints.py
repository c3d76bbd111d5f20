"""Endpoint URLs, dialects, handshake material and environment variables (no sockets)."""

from __future__ import annotations

import uuid

import pytest

from agentkit.auth import ApiKey, BearerKey, EntraToken
from agentkit.endpoints import Endpoint, configured_variables, infer_dialect, is_loopback
from agentkit.errors import ConfigurationError, MissingSettingError
from agentkit.protocol.dialects import Dialect
from tests.connection.fakes import AsyncCredential, Clock, SyncCredential

KEY = "azure-key-0123456789"
RES = "https://res.openai.azure.com"


async def test_azure_ga_url_and_api_key_header() -> None:
    endpoint = Endpoint.azure(RES, "gpt-realtime", KEY)
    assert endpoint.dialect is Dialect.GA and endpoint.kind == "azure"
    assert endpoint.url == "wss://res.openai.azure.com/openai/v1/realtime?model=gpt-realtime"
    handshake = await endpoint.handshake()
    assert handshake.url == endpoint.url
    assert handshake.headers["api-key"] == KEY
    assert "Authorization" not in handshake.headers and "OpenAI-Beta" not in handshake.headers


async def test_azure_preview_url() -> None:
    endpoint = Endpoint.azure(RES, "my deploy", KEY, api_version="2025-04-01-preview")
    assert endpoint.dialect is Dialect.PREVIEW
    assert endpoint.url == (
        "wss://res.openai.azure.com/openai/realtime"
        "?api-version=2025-04-01-preview&deployment=my+deploy"
    )


@pytest.mark.parametrize(
    "given",
    [
        "https://res.openai.azure.com/",
        "wss://res.openai.azure.com",
        "https://res.openai.azure.com/openai",
        "https://res.openai.azure.com/openai/v1/",
        " https://res.openai.azure.com ",
        "res.openai.azure.com",
        "https://res.openai.azure.com/openai/v1/realtime",
        "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions",
    ],
)
def test_azure_endpoint_spellings_are_normalised(given: str) -> None:
    url = Endpoint.azure(given, "d", KEY).url
    assert url == "wss://res.openai.azure.com/openai/v1/realtime?model=d"


def test_azure_keeps_a_gateway_path() -> None:
    url = Endpoint.azure("https://apim.example.com/aoai", "d", KEY).url
    assert url == "wss://apim.example.com/aoai/openai/v1/realtime?model=d"
    pasted = Endpoint.azure("https://apim.example.com/aoai/openai/deployments/x/", "d", KEY).url
    assert pasted == url


@pytest.mark.parametrize(
    ("pasted", "deployment"),
    [
        (
            "https://res.openai.azure.com/openai/realtime"
            f"?api-version=2025-04-01-preview&deployment=gpt-realtime&api-key={KEY}",
            "gpt-realtime",
        ),
        (
            "https://res.openai.azure.com/openai/deployments/chat4/chat/completions"
            "?api-version=2024-10-21",
            "chat4",
        ),
    ],
)
def test_azure_endpoint_with_a_query_shows_the_accepted_form(pasted: str, deployment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Endpoint.azure(pasted, "d", KEY)
    message = str(info.value)
    assert "use 'https://res.openai.azure.com'" in message
    assert f"the deployment {deployment!r} as AZURE_OPENAI_DEPLOYMENT" in message
    assert KEY not in message


async def test_azure_query_key_is_in_the_url_and_redacted_everywhere_else() -> None:
    endpoint = Endpoint.azure(RES, "d", ApiKey(KEY, in_query=True))
    handshake = await endpoint.handshake()
    assert handshake.url.endswith(f"?model=d&api-key={KEY}")
    assert "api-key" not in handshake.headers
    assert endpoint.redacted_url.endswith("?model=d&api-key=***")
    for text in (endpoint.redacted_url, repr(endpoint), repr(handshake), str(handshake)):
        assert KEY not in text


async def test_azure_sends_a_fresh_client_request_id() -> None:
    endpoint = Endpoint.azure(RES, "d", KEY)
    first, second = await endpoint.handshake(), await endpoint.handshake()
    ids = {first.headers["x-ms-client-request-id"], second.headers["x-ms-client-request-id"]}
    assert len(ids) == 2 and all(uuid.UUID(value).version == 4 for value in ids)


@pytest.mark.parametrize("credential_type", [SyncCredential, AsyncCredential])
async def test_azure_entra_fetches_a_token_per_handshake(
    credential_type: type[SyncCredential] | type[AsyncCredential],
) -> None:
    clock = Clock()
    credential = credential_type(lifetime=3600, clock=clock)
    assert isinstance(Endpoint.azure(RES, "d", credential).credential, EntraToken)
    endpoint = Endpoint.azure(RES, "d", EntraToken(credential, clock=clock))
    handshake = await endpoint.handshake()
    assert handshake.headers["Authorization"].startswith("Bearer ")
    assert handshake.headers["Authorization"].endswith("-token-1")
    assert "api-key" not in handshake.headers
    clock.now += 3600
    assert (await endpoint.handshake()).headers["Authorization"].endswith("-token-2")
    assert "token-" not in repr(endpoint)


def test_azure_requires_a_credential() -> None:
    with pytest.raises(MissingSettingError) as info:
        Endpoint.azure(RES, "d")
    assert "AZURE_OPENAI_API_KEY" in info.value.setting
    assert "DefaultAzureCredential" in str(info.value)


@pytest.mark.parametrize(
    ("endpoint", "deployment", "setting"), [("", "d", "endpoint"), (RES, " ", "deployment")]
)
def test_azure_missing_settings_are_named(endpoint: str, deployment: str, setting: str) -> None:
    with pytest.raises(MissingSettingError, match=setting):
        Endpoint.azure(endpoint, deployment, KEY)


async def test_openai_ga_uses_bearer_and_no_beta_header() -> None:
    endpoint = Endpoint.openai("gpt-realtime", "sk-secret-0123456789")
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert endpoint.dialect is Dialect.GA and endpoint.kind == "openai"
    handshake = await endpoint.handshake()
    assert handshake.headers == {"Authorization": "Bearer sk-secret-0123456789"}
    assert "sk-secret" not in repr(endpoint)


async def test_openai_beta_adds_the_header_and_preview_dialect() -> None:
    endpoint = Endpoint.openai(api_key="sk-x", beta=True)
    assert endpoint.dialect is Dialect.PREVIEW
    assert (await endpoint.handshake()).headers["OpenAI-Beta"] == "realtime=v1"


def test_openai_requires_a_key() -> None:
    with pytest.raises(MissingSettingError, match="OPENAI_API_KEY"):
        Endpoint.openai()


async def test_custom_url_without_credential() -> None:
    endpoint = Endpoint.custom("ws://127.0.0.1:1234/v1/realtime?model=x")
    assert endpoint.dialect is Dialect.GA and endpoint.credential is None
    handshake = await endpoint.handshake()
    assert handshake.url == endpoint.url and handshake.headers == {}


def test_custom_string_credential_follows_the_path_style() -> None:
    azure_like = Endpoint.custom("ws://localhost:1/openai/v1/realtime?model=x", "k")
    openai_like = Endpoint.custom("ws://localhost:1/v1/realtime?model=x", "k")
    assert isinstance(azure_like.credential, ApiKey)
    assert isinstance(openai_like.credential, BearerKey)


async def test_custom_headers_and_explicit_dialect() -> None:
    endpoint = Endpoint.custom(
        "wss://proxy.example/rt", dialect=Dialect.PREVIEW, headers={"X-Tenant": "t1"}
    )
    assert endpoint.dialect is Dialect.PREVIEW
    assert (await endpoint.handshake()).headers == {"X-Tenant": "t1"}


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("ws://h/openai/v1/realtime?model=x", Dialect.GA),
        ("ws://h/v1/realtime?model=x", Dialect.GA),
        ("ws://h/openai/realtime?api-version=2025-04-01-preview&deployment=x", Dialect.PREVIEW),
        ("ws://h/openai/realtime", Dialect.PREVIEW),
        ("ws://h/anything?api-version=v", Dialect.PREVIEW),
    ],
)
def test_dialect_inference(url: str, dialect: Dialect) -> None:
    assert infer_dialect(url) is dialect


@pytest.mark.parametrize(
    "url", ["ws://10.0.0.5/v1/realtime", "http://example.com/x", "ws://[fe80::1]:9/x"]
)
def test_plain_ws_off_loopback_is_refused(url: str) -> None:
    with pytest.raises(
        ConfigurationError, match="allow_insecure=True .agentkit run: --allow-insecure"
    ):
        Endpoint.custom(url)
    assert Endpoint.custom(url, allow_insecure=True).url.startswith("ws://")


def test_plain_http_azure_is_refused_too() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure"):
        Endpoint.azure("http://res.openai.azure.com", "d", KEY)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "url", ["ftp://h/x", "res.openai.azure.com", "wss:///nohost", "wss://h:notaport/x"]
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Endpoint.custom(url)


def test_bad_url_message_is_redacted() -> None:
    with pytest.raises(ConfigurationError) as info:
        Endpoint.custom(f"ftp://h/x?api-key={KEY}")
    assert KEY not in str(info.value)


# -- from_env ---------------------------------------------------------------------------------


def test_from_env_azure_with_key() -> None:
    endpoint = Endpoint.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": RES,
            "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
            "AZURE_OPENAI_API_KEY": KEY,
            "OPENAI_API_KEY": "sk-ignored",
        }
    )
    assert endpoint.kind == "azure" and endpoint.dialect is Dialect.GA
    assert isinstance(endpoint.credential, ApiKey)
    assert endpoint.url.endswith("/openai/v1/realtime?model=gpt-realtime")


def test_from_env_azure_without_key_uses_default_azure_credential() -> None:
    endpoint = Endpoint.from_env({"AZURE_OPENAI_ENDPOINT": RES, "AZURE_OPENAI_DEPLOYMENT": "d"})
    assert isinstance(endpoint.credential, EntraToken)
    assert type(endpoint.credential.credential).__name__ == "DefaultAzureCredential"


def test_from_env_deployment_name_alias() -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": RES,
        "AZURE_OPENAI_DEPLOYMENT_NAME": "d",
        "AZURE_OPENAI_API_KEY": KEY,
    }
    assert Endpoint.from_env(env).url.endswith("?model=d")


def test_from_env_azure_without_deployment_names_the_variable() -> None:
    with pytest.raises(MissingSettingError) as info:
        Endpoint.from_env({"AZURE_OPENAI_ENDPOINT": RES, "AZURE_OPENAI_API_KEY": KEY})
    assert info.value.setting == "AZURE_OPENAI_DEPLOYMENT"


@pytest.mark.parametrize(
    ("variables", "dialect"),
    [
        ({"AZURE_OPENAI_REALTIME_API_VERSION": "2025-04-01-preview"}, Dialect.PREVIEW),
        ({"AZURE_OPENAI_API_VERSION": "2025-04-01-preview"}, Dialect.PREVIEW),
        ({"AZURE_OPENAI_API_VERSION": "2024-10-21"}, Dialect.GA),  # a chat-completions version
        ({"AZURE_OPENAI_API_VERSION": ""}, Dialect.GA),
    ],
)
def test_from_env_api_version_selects_preview(variables: dict[str, str], dialect: Dialect) -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": RES,
        "AZURE_OPENAI_DEPLOYMENT": "d",
        "AZURE_OPENAI_API_KEY": KEY,
    }
    endpoint = Endpoint.from_env(env | variables)
    assert endpoint.dialect is dialect
    assert ("api-version=" in endpoint.url) == (dialect is Dialect.PREVIEW)


def test_from_env_openai() -> None:
    endpoint = Endpoint.from_env(
        {"OPENAI_API_KEY": "sk-x", "OPENAI_REALTIME_MODEL": "gpt-realtime-mini"}
    )
    assert endpoint.kind == "openai" and isinstance(endpoint.credential, BearerKey)
    assert endpoint.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-mini"


def test_from_env_openai_base_url() -> None:
    env = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "https://gateway.example/v1/"}
    assert Endpoint.from_env(env).url == "wss://gateway.example/v1/realtime?model=gpt-realtime"


def test_from_env_custom_url_wins() -> None:
    env = {
        "AGENTKIT_REALTIME_URL": "ws://127.0.0.1:9/openai/realtime?api-version=v&deployment=d",
        "AZURE_OPENAI_ENDPOINT": RES,
        "AZURE_OPENAI_API_KEY": KEY,
    }
    endpoint = Endpoint.from_env(env)
    assert endpoint.kind == "custom" and endpoint.dialect is Dialect.PREVIEW
    assert isinstance(endpoint.credential, ApiKey)


def test_from_env_nothing_set_names_both_choices() -> None:
    with pytest.raises(MissingSettingError) as info:
        Endpoint.from_env({"AZURE_OPENAI_ENDPOINT": "  ", "OPENAI_API_KEY": ""})
    assert info.value.setting == "AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY"


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENTKIT_REALTIME_URL", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert Endpoint.from_env().kind == "openai"


@pytest.mark.parametrize(
    ("environ", "setting", "says"),
    [
        (
            {"AZURE_OPENAI_API_KEY": KEY},
            "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_API_KEY is set, but not AZURE_OPENAI_ENDPOINT: set it to "
            "https://RESOURCE.openai.azure.com, with AZURE_OPENAI_DEPLOYMENT",
        ),
        (
            {"AZURE_OPENAI_DEPLOYMENT": "d", "AZURE_OPENAI_API_VERSION": "2024-10-21"},
            "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_API_VERSION and AZURE_OPENAI_DEPLOYMENT are set, but not "
            "AZURE_OPENAI_ENDPOINT: set it to https://RESOURCE.openai.azure.com)",
        ),
        (
            {"OPENAI_REALTIME_MODEL": "gpt-realtime-mini"},
            "OPENAI_API_KEY",
            "OPENAI_REALTIME_MODEL is set, but not it",
        ),
        (
            {"AZURE_OPENAI_ENDPIONT": RES, "AZURE_OPENAI_KEY": KEY},
            "AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY",
            "AZURE_OPENAI_ENDPIONT is set but not read: did you mean AZURE_OPENAI_ENDPOINT?; "
            "AZURE_OPENAI_KEY is set but not read: did you mean AZURE_OPENAI_API_KEY?",
        ),
        (
            {"AZURE_OPENAI_ENDPOINT": RES, "AZURE_OPENAI_DEPLOYMNET": "d"},
            "AZURE_OPENAI_DEPLOYMENT",
            "AZURE_OPENAI_DEPLOYMNET is set but not read: did you mean AZURE_OPENAI_DEPLOYMENT?",
        ),
    ],
)
def test_from_env_partial_settings_name_what_is_missing(
    environ: dict[str, str], setting: str, says: str
) -> None:
    with pytest.raises(MissingSettingError) as info:
        Endpoint.from_env(environ)
    assert info.value.setting == setting
    assert says in str(info.value)
    assert KEY not in str(info.value)


def test_configured_variables_are_the_read_ones_and_their_lookalikes() -> None:
    unrelated = {"PATH": "/bin", "AGENTKIT_LOG": "debug", "AZURE_CLIENT_ID": "x", "HOME": "/h"}
    assert configured_variables(unrelated) == []
    assert configured_variables({"OPENAI_API_KEY": "  "}) == []  # blank counts as unset
    lookalikes = {"AZURE_OPENAI_KEY": KEY, "OPENAI_APIKEY": "k", "AZURE_OPENAI_CHAT_MODEL": "m"}
    assert configured_variables(unrelated | lookalikes) == sorted(lookalikes)
    read = {"AZURE_OPENAI_API_VERSION": "2024-10-21", "AGENTKIT_REALTIME_URL": "ws://h"}
    assert configured_variables(read) == sorted(read)
