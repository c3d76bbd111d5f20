"""HostedMCP's configuration: the SDK's ``Mcp`` tool shape on the wire, secrets nowhere else,
clear errors for what the service would refuse, and no ``mcp`` extra needed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from openai.types.realtime.realtime_tools_config_param import Mcp
from pydantic import TypeAdapter

from agentkit import Agent, ConfigurationError, HostedMCP
from agentkit.protocol.client_events import SessionUpdate
from agentkit.protocol.codec import encode
from agentkit.protocol.dialects import Dialect
from tests.support import TIMEOUT

TOKEN = "tok-5be1d0c2"
MCP_TOOL: TypeAdapter[Any] = TypeAdapter(Mcp)


def wire_tools(agent: Agent, dialect: Dialect = Dialect.GA) -> list[dict[str, Any]]:
    frame = json.loads(encode(SessionUpdate(session=agent.session_config()), dialect))
    return frame["session"]["tools"]  # type: ignore[no-any-return]


def test_every_setting_goes_on_the_wire_in_the_sdks_shape() -> None:
    server = HostedMCP(
        "docs",
        "https://mcp.example.com/mcp",
        headers={"X-Key": TOKEN},
        authorization=TOKEN + "-oauth",
        allowed_tools={"tool_names": ["search"], "read_only": True},
        require_approval={"never": {"tool_names": ["search"]}},
        server_description="The product docs.",
    )
    agent = Agent(tools=[server])

    (tool,) = wire_tools(agent)

    assert MCP_TOOL.validate_python(tool) == tool
    assert tool == {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://mcp.example.com/mcp",
        "server_description": "The product docs.",
        "allowed_tools": {"tool_names": ["search"], "read_only": True},
        "require_approval": {"never": {"tool_names": ["search"]}},
        "headers": {"X-Key": TOKEN},
        "authorization": TOKEN + "-oauth",
    }


@pytest.mark.parametrize(
    "settings",
    [
        {"allowed_tools": ["a", "b"], "require_approval": "always"},
        {"require_approval": "never"},
        {"require_approval": {"always": {"read_only": False}, "never": {"read_only": True}}},
        {},
    ],
)
def test_each_form_of_the_filters_is_valid_for_the_sdk(settings: dict[str, Any]) -> None:
    agent = Agent(tools=[HostedMCP("docs", "https://mcp.example.com/mcp", **settings)])
    (tool,) = wire_tools(agent)
    MCP_TOOL.validate_python(tool)
    assert {k: tool[k] for k in settings} == settings


def test_a_connector_is_sent_instead_of_a_url() -> None:
    agent = Agent(tools=[HostedMCP("cal", connector_id="connector_googlecalendar")])
    (tool,) = wire_tools(agent)
    MCP_TOOL.validate_python(tool)
    assert tool["connector_id"] == "connector_googlecalendar" and "server_url" not in tool


def test_secrets_show_nowhere_but_on_the_wire() -> None:
    server = HostedMCP("docs", "https://x/mcp", headers={"X-Key": TOKEN}, authorization=TOKEN)
    agent = Agent(name="a", tools=[server])
    config = agent.session_config()

    shown = [repr(server), str(server), repr(agent), repr(config), str(config.tools)]
    assert all(TOKEN not in text for text in shown)
    assert server.header_names == ("X-Key",)
    assert "secrets=headers+authorization" in repr(server)
    assert TOKEN in json.dumps(wire_tools(agent))


def test_hosted_servers_sit_beside_the_function_tools_and_survive_changes() -> None:
    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    server = HostedMCP("docs", "https://x/mcp")
    agent = Agent(tools=[lookup, server])

    assert list(agent.toolset.names) == ["lookup"]
    assert agent.hosted_mcp == (server,)
    assert [t["type"] for t in wire_tools(agent)] == ["function", "mcp"]
    assert agent.with_changes(instructions="y").hosted_mcp == (server,)
    assert Agent(tools=server).hosted_mcp == (server,)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: HostedMCP("", "https://x"), "server_label"),
        (lambda: HostedMCP("docs"), "exactly one of server_url and connector_id"),
        (lambda: HostedMCP("docs", "https://x", connector_id="c"), "exactly one"),
        (lambda: HostedMCP("docs", "https://x", headers={"X": 1}), "headers"),  # type: ignore[dict-item]
        (lambda: HostedMCP("docs", "https://x", allowed_tools="search"), "allowed_tools"),
        (lambda: HostedMCP("docs", "https://x", require_approval="sometimes"), "require_approval"),
        (
            lambda: HostedMCP("docs", "https://x", require_approval={"always": {"names": []}}),
            "tool_names and read_only",
        ),
        (
            lambda: Agent(tools=[HostedMCP("docs", "https://a"), HostedMCP("docs", "https://b")]),
            "labels must differ",
        ),
    ],
)
def test_mistakes_fail_at_construction(make: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        make()


def test_hosted_mcp_needs_no_mcp_extra() -> None:
    code = (
        "import sys; sys.modules['mcp'] = None; sys.modules['mcp_types'] = None; "
        "from agentkit import Agent, HostedMCP; import agentkit.testing; "
        "a = Agent(tools=[HostedMCP('x', 'http://127.0.0.1:1/mcp', headers={'K': 'v'})]); "
        "print(a.session_config().tools[0]['server_label'], agentkit.testing.Simulator)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=6 * TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("x ")


def test_a_preview_endpoint_refuses_hosted_mcp_before_connecting() -> None:
    from agentkit import Endpoint, Session

    agent = Agent(tools=[HostedMCP("docs", "https://x/mcp")])
    endpoint = Endpoint.custom("ws://127.0.0.1:1/openai/realtime?api-version=2025-04-01-preview")
    with pytest.raises(ConfigurationError, match="hosted MCP tools .* need the GA protocol"):
        Session(agent, endpoint, dialect=Dialect.PREVIEW)
