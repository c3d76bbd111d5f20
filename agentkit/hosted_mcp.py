"""Hosted MCP tools: a remote MCP server that the realtime service itself calls.

Put a :class:`HostedMCP` among an agent's tools and its ``type: "mcp"`` entry goes into
``session.update``; the service lists the server's tools, calls them and streams what happens
(``mcp_list_tools.*``, ``response.mcp_call*`` events and ``mcp_*`` items). agentkit turns those
into application events and history items, and answers each ``mcp_approval_request`` through the
session's approval hook, exactly once, across reconnects too. Needs no ``mcp`` extra: agentkit
never talks to the server itself. See docs/mcp.md, "Hosted MCP".

Headers and the authorization token are secrets: they are held as
:class:`~agentkit._redact.Secret` values, revealed only when ``session.update`` is encoded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentkit._redact import Secret
from agentkit.actions import Call, Emit
from agentkit.approval import Approval, ToolCallRequest
from agentkit.errors import ConfigurationError, ConnectionFailedError, SessionClosedError
from agentkit.events import (
    HostedToolApprovalAnswered,
    HostedToolApprovalRequested,
    HostedToolArgumentsDelta,
    HostedToolArgumentsDone,
    HostedToolCall,
    HostedToolCallFinished,
    HostedToolsListing,
)
from agentkit.protocol import events as ev
from agentkit.protocol.client_events import ConversationItemCreate, new_item_id
from agentkit.tools import ToolResult

if TYPE_CHECKING:
    from agentkit.history import Entry
    from agentkit.session import Session
    from agentkit.state import ConversationState

__all__ = ["ApprovalPolicy", "HostedMCP", "ToolFilter"]

logger = logging.getLogger("agentkit.session")

ToolFilter = Mapping[str, Any]
"""``{"tool_names": [...], "read_only": True}``: which of the server's tools a setting covers."""

ApprovalPolicy = Literal["always", "never"] | Mapping[str, ToolFilter]
"""``"always"``, ``"never"``, or ``{"always": filter, "never": filter}`` naming which tools need
approval and which do not."""

_FILTER_KEYS = frozenset(("tool_names", "read_only"))


class HostedMCP:
    """A remote MCP server the realtime service connects to and calls on the model's behalf.

    Args:
        server_label: names the server in calls and items; unique among an agent's servers.
        server_url: where the service reaches the server (streamable HTTP).
        headers: HTTP headers the service sends the server (an API key, say). Secret: never
            shown in reprs, logs or errors.
        authorization: an OAuth access token for the server, also secret.
        allowed_tools: the only tools the model may use: names, or a filter
            (``{"tool_names": [...], "read_only": True}``).
        require_approval: ``"always"``, ``"never"``, or ``{"always": filter, "never": filter}``.
            ``None`` leaves the service's default, which asks for every call. Each request
            goes through ``SessionOptions.approve``; without a hook agentkit denies it.
        server_description: tells the model what the server is for.
        connector_id: a service connector (``"connector_googlecalendar"``...) instead of a URL.
    """

    __slots__ = (
        "_authorization",
        "_headers",
        "allowed_tools",
        "connector_id",
        "require_approval",
        "server_description",
        "server_label",
        "server_url",
    )

    def __init__(
        self,
        server_label: str,
        server_url: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        authorization: str | None = None,
        allowed_tools: Sequence[str] | ToolFilter | None = None,
        require_approval: ApprovalPolicy | None = None,
        server_description: str | None = None,
        connector_id: str | None = None,
    ) -> None:
        if not isinstance(server_label, str) or not server_label.strip():
            raise ConfigurationError("HostedMCP needs a server_label (a non-empty string)")
        if (server_url is None) == (connector_id is None):
            raise ConfigurationError(
                f"HostedMCP {server_label!r} needs exactly one of server_url and connector_id"
            )
        self.server_label = server_label
        self.server_url = server_url
        self.connector_id = connector_id
        self.server_description = server_description
        self.allowed_tools = _allowed(server_label, allowed_tools)
        self.require_approval = _policy(server_label, require_approval)
        self._headers = _secret_headers(server_label, headers)
        self._authorization = Secret(authorization) if authorization else None

    def __repr__(self) -> str:
        where = self.server_url or self.connector_id
        secrets = [name for name in ("headers", "authorization") if getattr(self, "_" + name)]
        held = f", secrets={'+'.join(secrets)}" if secrets else ""
        return f"HostedMCP({self.server_label!r}, {where!r}{held})"

    @property
    def header_names(self) -> tuple[str, ...]:
        """The names of the headers sent to the server (their values stay hidden)."""
        return tuple(self._headers)

    def schema(self) -> dict[str, Any]:
        """The ``type: "mcp"`` entry of ``session.tools``; the headers and token stay wrapped
        as secrets until ``session.update`` is encoded."""
        tool: dict[str, Any] = {"type": "mcp", "server_label": self.server_label}
        optional: dict[str, Any] = {
            "server_url": self.server_url,
            "connector_id": self.connector_id,
            "server_description": self.server_description,
            "allowed_tools": self.allowed_tools,
            "require_approval": self.require_approval,
            "headers": dict(self._headers) or None,
            "authorization": self._authorization,
        }
        tool.update({key: value for key, value in optional.items() if value is not None})
        return tool


def check_labels(servers: Iterable[HostedMCP]) -> tuple[HostedMCP, ...]:
    """The servers, once each; two different servers under one label fail here."""
    kept: dict[str, HostedMCP] = {}
    for server in servers:
        if not isinstance(server, HostedMCP):
            raise TypeError(f"hosted_mcp takes HostedMCP servers, not a {type(server).__name__}")
        seen = kept.get(server.server_label)
        if seen is not None and seen is not server:
            raise ConfigurationError(
                f"two hosted MCP servers are labelled {server.server_label!r}; labels must differ"
            )
        kept[server.server_label] = server
    return tuple(kept.values())


def _secret_headers(label: str, headers: Mapping[str, str] | None) -> dict[str, Secret]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigurationError(f"HostedMCP {label!r}: headers must map strings to strings")
    return {name: Secret(value) for name, value in headers.items()}


def _allowed(label: str, value: Sequence[str] | ToolFilter | None) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _filter(label, "allowed_tools", value)
    if isinstance(value, str) or not all(isinstance(name, str) for name in value):
        raise ConfigurationError(
            f"HostedMCP {label!r}: allowed_tools takes a list of tool names or a filter"
        )
    return list(value)


def _policy(label: str, value: ApprovalPolicy | None) -> Any:
    if value is None or value in ("always", "never"):
        return value
    if isinstance(value, Mapping) and value and set(value) <= {"always", "never"}:
        return {key: _filter(label, f"require_approval.{key}", f) for key, f in value.items()}
    raise ConfigurationError(
        f"HostedMCP {label!r}: require_approval takes 'always', 'never' or "
        "{'always': filter, 'never': filter}"
    )


def _filter(label: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not set(value) <= _FILTER_KEYS:
        raise ConfigurationError(
            f"HostedMCP {label!r}: {where} filters take tool_names and read_only only"
        )
    names = value.get("tool_names")
    if names is not None and (
        isinstance(names, str) or not all(isinstance(name, str) for name in names)
    ):
        raise ConfigurationError(f"HostedMCP {label!r}: {where}.tool_names is a list of names")
    if "read_only" in value and not isinstance(value["read_only"], bool):
        raise ConfigurationError(f"HostedMCP {label!r}: {where}.read_only is true or false")
    shown = dict(value)
    if names is not None:
        shown["tool_names"] = list(names)
    return shown


# -- approvals: what the state decides and the session runs ---------------------------------


@dataclass(slots=True)
class ApprovalCall(Call):
    """An ``mcp_approval_request`` the session owes one ``mcp_approval_response``.

    It rides the dispatcher's call records (``call_id`` is the request's item id): so the
    answer is posted once, after its response ended, re-sent after a reconnect only while the
    service has not acknowledged it, and followed by the one ``response.create``.
    """

    server_label: str = ""
    answer_id: str = ""  # the answer item's id: the same on every socket

    def reply(self) -> ConversationItemCreate:
        """The ``conversation.item.create`` of the answer (``result`` holds the decision)."""
        result = self.result
        assert result is not None
        item: dict[str, Any] = {
            "type": "mcp_approval_response",
            "id": self.answer_id,
            "approval_request_id": self.call_id,
            "approve": not result.is_error,
        }
        if result.output:
            item["reason"] = result.output
        return ConversationItemCreate(item=item)


@dataclass(frozen=True, slots=True)
class StartApproval:
    """Ask the approval hook about ``call``; the session hands the decision back to the state
    with :meth:`~agentkit.state.ConversationState.approval_decided`."""

    call: ApprovalCall


def item_done(state: ConversationState, item: ev.Item, response_id: str | None) -> list[Any]:
    """A hosted MCP item of a response is done: a call the service made, or a request to
    answer (one of a response no longer running is answered on its own, like a late call)."""
    if item.type == "mcp_call":
        return [call_finished(item, response_id)]
    if item.type == "mcp_approval_request":
        active = response_id if response_id == state.active_response_id else None
        return approval_requested(state, item, active)
    return []


def approval_requested(
    state: ConversationState, item: ev.Item, response_id: str | None
) -> list[Any]:
    """A new ``mcp_approval_request`` item: record it as owed, and ask the application."""
    request_id = item.id
    answered = state._answered
    if not request_id or request_id in state.calls or (answered and request_id in answered):
        return []  # known already: answered at most once
    call = ApprovalCall(
        request_id,
        item.name or "",
        item.arguments or "",
        response_id,
        request_id,
        server_label=item.server_label or "",
        answer_id=new_item_id(),
    )
    call.started_at = state.clock()
    state.calls[request_id] = call
    if response_id is not None:
        state._response_calls.setdefault(response_id, []).append(request_id)
    requested = Emit(
        HostedToolApprovalRequested,
        request_id=request_id,
        server_label=call.server_label,
        name=call.name,
        arguments=call.arguments,
    )
    return [requested, StartApproval(call)]


def decision(approval: Approval) -> ToolResult:
    """An approval as the call's result: an error result for a denial, its reason the text."""
    if approval.allowed:
        return ToolResult(approval.reason)
    return ToolResult(approval.reason, is_error=True, error_type="denied")


def answered(call: ApprovalCall) -> Emit:
    result = call.result
    assert result is not None
    return Emit(
        HostedToolApprovalAnswered,
        request_id=call.call_id,
        server_label=call.server_label,
        name=call.name,
        approved=not result.is_error,
        reason=result.output,
    )


async def answer_approval(session: Session, call: ApprovalCall) -> None:
    """Run the approval hook for one request and hand the answer to the state; a request the
    session cancels (barge-in under the ``"cancel"`` policy, closing) is denied."""
    try:
        request = ToolCallRequest(
            call.call_id, call.name, call.arguments, session=session, server_label=call.server_label
        )
        try:
            approval = await session._runner.approval(request, no_hook=NO_HOOK)
        except asyncio.CancelledError:
            reason = session._runner.cancelled(call.call_id)
            approval = Approval.deny(f"the request was cancelled: {reason}")
        finally:
            session._runner.ended(call.call_id)
        try:
            if not session._perform_now(session.state.approval_decided(call.call_id, approval)):
                await session._flush()
        except (SessionClosedError, ConnectionFailedError):
            logger.info(
                "answer to MCP request %s not delivered: the connection is gone", call.call_id
            )
    finally:
        session._tasks.remove(asyncio.current_task())  # started with removes_itself


NO_HOOK = Approval.deny("no approval hook is set (SessionOptions.approve), so nothing may run")
"""The answer to an approval request when the application set no hook: a request asks for a
decision, and nobody made one."""


# -- server events -> application events ------------------------------------------------------


def _entry(state: ConversationState, item_id: str) -> Entry | None:
    return state.history.get(item_id)


def on_listing(state: ConversationState, event: Any) -> list[Any]:
    """``mcp_list_tools.in_progress/completed/failed``. The event is built when it is told,
    after the chunk it came in: the item's ``conversation.item.done`` with the tools may follow
    ``completed`` in the same chunk."""
    status = event.type.rsplit(".", 1)[1]
    return [Emit(_listing, state, event.item_id, status)]


def _listing(state: ConversationState, item_id: str, status: str) -> HostedToolsListing:
    entry = _entry(state, item_id)
    return HostedToolsListing(
        item_id=item_id,
        status=status,
        server_label=entry["server_label"] if entry else None,
        tools=entry["tools"] if entry else (),
    )


def on_arguments_delta(state: ConversationState, event: Any) -> list[Any]:
    return [
        Emit(
            HostedToolArgumentsDelta,
            response_id=event.response_id,
            item_id=event.item_id,
            delta=event.delta,
        )
    ]


def on_arguments_done(state: ConversationState, event: Any) -> list[Any]:
    entry = _entry(state, event.item_id)
    return [
        Emit(
            HostedToolArgumentsDone,
            response_id=event.response_id,
            item_id=event.item_id,
            arguments=event.arguments,
            server_label=entry["server_label"] if entry else None,
            name=entry["name"] if entry else None,
        )
    ]


def on_call_status(state: ConversationState, event: Any) -> list[Any]:
    """``response.mcp_call.in_progress/completed/failed``."""
    entry = _entry(state, event.item_id)
    return [
        Emit(
            HostedToolCall,
            item_id=event.item_id,
            status=event.type.rsplit(".", 1)[1],
            server_label=entry["server_label"] if entry else None,
            name=entry["name"] if entry else None,
        )
    ]


def call_finished(item: ev.Item, response_id: str | None) -> Emit:
    """An ``mcp_call`` item is done: what the server answered."""
    return Emit(
        HostedToolCallFinished,
        response_id=response_id,
        item_id=item.id or "",
        server_label=item.server_label,
        name=item.name,
        arguments=item.arguments or "",
        output=item.output,
        error=item.error,
        approval_request_id=item.approval_request_id,
    )


HANDLERS: dict[type, Any] = {
    ev.McpListToolsInProgress: on_listing,
    ev.McpListToolsCompleted: on_listing,
    ev.McpListToolsFailed: on_listing,
    ev.ResponseMcpCallArgumentsDelta: on_arguments_delta,
    ev.ResponseMcpCallArgumentsDone: on_arguments_done,
    ev.ResponseMcpCallInProgress: on_call_status,
    ev.ResponseMcpCallCompleted: on_call_status,
    ev.ResponseMcpCallFailed: on_call_status,
}
"""The state's handlers for the hosted MCP server events (each tells the application)."""
