"""The simulator as the hosted-MCP service: it connects to the MCP servers a session names.

A ``type: "mcp"`` tool in ``session.update`` makes the simulated service list the server's tools
over streamable HTTP (with the official ``mcp`` SDK, imported only here and only then), as an
``mcp_list_tools`` item and ``mcp_list_tools.*`` events; a scripted call of one of those tools
becomes an ``mcp_call`` whose output is the server's real answer. A tool that needs approval
gets an ``mcp_approval_request`` first, and is called only once the client approves it.

The network work runs as *jobs*: coroutines the connection's I/O layer awaits between streamed
events (:meth:`HostedService.take_job`); everything else here is plain state. The headers of a
tool reach the server and nothing else: not ``session.updated``, not an event, not a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentkit.testing.conversation import Conversation, public_item
from agentkit.testing.dialect import GA, Dialect
from agentkit.testing.ids import IdFactory

__all__ = ["HostedService", "McpOutcome", "public_tool", "without_secrets"]

log = logging.getLogger("agentkit.testing")
Event = dict[str, Any]
Job = Coroutine[Any, Any, None]

MCP_TIMEOUT = 30.0
"""Seconds the simulated service gives one MCP request (a list or a call)."""
_SECRET_KEYS = ("headers", "authorization")


def public_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A session tool as the service shows it: an MCP tool without its headers and token."""
    return {k: copy.deepcopy(v) for k, v in tool.items() if k not in _SECRET_KEYS}


def without_secrets(session: Mapping[str, Any]) -> dict[str, Any]:
    """The session as ``session.created`` / ``session.updated`` show it (no MCP secrets)."""
    shown = copy.deepcopy(dict(session))
    tools = shown.get("tools")
    if isinstance(tools, list):
        shown["tools"] = [
            public_tool(t) if isinstance(t, Mapping) and t.get("type") == "mcp" else t
            for t in tools
        ]
    return shown


@dataclass
class McpOutcome:
    """What a hosted call came to, filled in by its job."""

    done: bool = False
    output: str | None = None
    error: dict[str, Any] | None = None
    cancelled: bool = False


@dataclass
class _Server:
    """One ``type: "mcp"`` tool of the session, and what listing it found."""

    label: str
    url: str | None
    headers: dict[str, str]
    allowed: Any
    approval: Any
    tools: list[dict[str, Any]] = field(default_factory=list)
    item_id: str = ""
    listing: bool = False


class HostedService:
    """The hosted-MCP half of one simulated connection."""

    def __init__(self, dialect: Dialect, ids: IdFactory, conversation: Conversation) -> None:
        self.dialect = dialect
        self.ids = ids
        self.conversation = conversation
        self.servers: dict[str, _Server] = {}
        self.queue: list[Event] = []
        self._jobs: list[Job] = []

    # -- what the connection asks ----------------------------------------------------------

    @property
    def listing(self) -> bool:
        """Whether a server's tools are still being listed (responses wait for them)."""
        return any(server.listing for server in self.servers.values())

    def take_job(self) -> Job | None:
        """The next piece of network work for the I/O layer to await, if any."""
        return self._jobs.pop(0) if self._jobs else None

    def next_event(self) -> Event | None:
        """An event of the service's own (listing), before any response's."""
        return self.queue.pop(0) if self.queue else None

    def configure(self, tools: object) -> None:
        """The session's tools changed: list each MCP server that is new or different."""
        wanted = {
            str(tool["server_label"]): tool
            for tool in (tools if isinstance(tools, list) else [])
            if isinstance(tool, Mapping) and tool.get("type") == "mcp"
        }
        for label in list(self.servers):
            if label not in wanted:
                del self.servers[label]
        for label, tool in wanted.items():
            server = _server_of(label, tool)
            known = self.servers.get(label)
            if known is not None and _same(known, server):
                continue
            self.servers[label] = server
            self._list(server)

    def tools_for_model(self) -> list[dict[str, Any]]:
        """The listed tools the model may call, as the scenario sees them."""
        found: list[dict[str, Any]] = []
        for server in self.servers.values():
            for tool in server.tools:
                if _matches(server.allowed, tool, default=True):
                    found.append(
                        {
                            "type": "mcp",
                            "name": tool["name"],
                            "server_label": server.label,
                            "approval": _needs_approval(server.approval, tool),
                        }
                    )
        return found

    def call(self, label: str, name: str, arguments: str) -> McpOutcome:
        """Call ``name`` on the server ``label`` (a job); the outcome fills in when it is done."""
        outcome = McpOutcome()
        server = self.servers.get(label)
        if server is None or server.url is None:
            outcome.done = True
            outcome.error = _error("http_error", f"MCP server {label!r} is not configured", 404)
            return outcome
        self._jobs.append(_call(server, name, arguments, outcome))
        return outcome

    # -- listing ----------------------------------------------------------------------------

    def _list(self, server: _Server) -> None:
        server.item_id = self.ids.new("mcpl")
        server.listing = True
        item = {
            "id": server.item_id,
            "object": "realtime.item",
            "type": "mcp_list_tools",
            "server_label": server.label,
            "tools": [],
        }
        previous = self.conversation.insert(item)
        self.queue.append(
            {"type": _added(self.dialect), "previous_item_id": previous, "item": public_item(item)}
        )
        self.queue.append({"type": "mcp_list_tools.in_progress", "item_id": server.item_id})
        self._jobs.append(self._listed(server, item))

    async def _listed(self, server: _Server, item: dict[str, Any]) -> None:
        try:
            tools = await asyncio.wait_for(_list_tools(server), MCP_TIMEOUT)
        except Exception as exc:  # any failure to reach the server: the listing failed
            cause = _first_cause(exc)
            log.warning(
                "the simulated service could not list MCP server %s: %r", server.label, cause
            )
            tools = None
        finally:
            server.listing = False
        if self.servers.get(server.label) is not server:
            return  # the session moved on
        server.tools = tools or []
        allowed = [t for t in server.tools if _matches(server.allowed, t, default=True)]
        item["tools"] = [dict(tool) for tool in allowed]
        status = "failed" if tools is None else "completed"
        if self.dialect == GA:  # the item first, so that whoever hears "completed" has the list
            self.queue.append({"type": "conversation.item.done", "item": public_item(item)})
        self.queue.append({"type": f"mcp_list_tools.{status}", "item_id": server.item_id})


def _added(dialect: Dialect) -> str:
    return "conversation.item.added" if dialect == GA else "conversation.item.created"


def _server_of(label: str, tool: Mapping[str, Any]) -> _Server:
    headers = tool.get("headers") if isinstance(tool.get("headers"), Mapping) else {}
    headers = {str(k): str(v) for k, v in (headers or {}).items()}
    if isinstance(tool.get("authorization"), str):
        headers.setdefault("Authorization", f"Bearer {tool['authorization']}")
    url = tool.get("server_url")
    return _Server(
        label=label,
        url=url if isinstance(url, str) else None,
        headers=headers,
        allowed=tool.get("allowed_tools"),
        approval=tool.get("require_approval", "always"),
    )


def _same(known: _Server, new: _Server) -> bool:
    return (known.url, known.headers, known.allowed, known.approval) == (
        new.url,
        new.headers,
        new.allowed,
        new.approval,
    )


def _matches(rule: Any, tool: Mapping[str, Any], *, default: bool) -> bool:
    """Whether ``tool`` falls under a tool filter (a list of names, or
    ``{"tool_names": [...], "read_only": bool}``); ``None`` gives ``default``."""
    if rule is None:
        return default
    if isinstance(rule, list):
        return tool.get("name") in rule
    if not isinstance(rule, Mapping):
        return default
    names = rule.get("tool_names")
    if names is not None and tool.get("name") not in names:
        return False
    if "read_only" in rule:
        annotations = tool.get("annotations") or {}
        read_only = bool(annotations.get("readOnlyHint") or annotations.get("read_only_hint"))
        return read_only == bool(rule["read_only"])
    return True


def _needs_approval(policy: Any, tool: Mapping[str, Any]) -> bool:
    """``require_approval``: absent or ``"always"`` asks (the service's default), ``"never"``
    does not, and a ``{"always": filter, "never": filter}`` object asks for what ``always``
    covers and for what neither covers."""
    if policy is None or policy == "always":
        return True
    if policy == "never":
        return False
    if isinstance(policy, Mapping):
        if "never" in policy and _matches(policy["never"], tool, default=False):
            return False
        if "always" in policy:
            return _matches(policy["always"], tool, default=False) or "never" not in policy
        return True
    return True


def _first_cause(exc: BaseException) -> BaseException:
    """The first real error inside the exception groups the SDK's task groups raise."""
    inner = getattr(exc, "exceptions", None)  # an exception group (a backport on 3.10)
    while isinstance(inner, (list, tuple)) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _error(kind: str, message: str, code: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    return error


# -- the MCP client (the mcp extra, imported here only) -----------------------------------------


@contextlib.asynccontextmanager
async def _client(server: _Server) -> AsyncIterator[Any]:
    try:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the simulator's hosted MCP needs the MCP SDK: pip install 'agentkit-realtime[mcp]'"
        ) from exc

    @contextlib.asynccontextmanager
    async def transport() -> AsyncIterator[Any]:
        async with httpx2.AsyncClient(headers=server.headers, timeout=MCP_TIMEOUT) as http:
            assert server.url is not None
            async with streamable_http_client(server.url, http_client=http) as streams:
                yield streams

    async with Client(transport()) as client:
        yield client


async def _list_tools(server: _Server) -> list[dict[str, Any]]:
    if server.url is None:
        raise RuntimeError("a connector needs the real service")
    tools: list[dict[str, Any]] = []
    async with _client(server) as client:
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                entry: dict[str, Any] = {"name": tool.name, "input_schema": dict(tool.input_schema)}
                if tool.description:
                    entry["description"] = tool.description
                if tool.annotations is not None:
                    entry["annotations"] = tool.annotations.model_dump(exclude_none=True)
                tools.append(entry)
            cursor = page.next_cursor
            if cursor is None:
                return tools


async def _call(server: _Server, name: str, arguments: str, outcome: McpOutcome) -> None:
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
        result = await asyncio.wait_for(_call_once(server, name, parsed), MCP_TIMEOUT)
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            outcome.error = _error("tool_execution_error", text or "the tool failed")
        elif result.structured_content is not None and not text:
            outcome.output = json.dumps(result.structured_content, separators=(",", ":"))
        else:
            outcome.output = text
    except Exception as exc:  # the server could not be reached, or answered with an error
        cause = _first_cause(exc)
        log.warning(
            "the simulated service's call of %s on %s failed: %r", name, server.label, cause
        )
        outcome.error = _error("protocol_error", f"{type(cause).__name__}: {cause}", -32603)
    finally:
        outcome.done = True


async def _call_once(server: _Server, name: str, arguments: Any) -> Any:
    async with _client(server) as client:
        return await client.call_tool(name, arguments)


Continuation = Callable[[Any, str | None, dict[str, Any] | None], list[Any]]
"""What the scenario plans after a hosted call (its words after the output)."""
