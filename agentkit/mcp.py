"""Tools from MCP servers: any Model Context Protocol server becomes a tool source for an agent.

Needs the ``mcp`` extra (``pip install "agentkit-realtime[mcp]"``); ``import agentkit`` never
imports this module. The connection is the official ``mcp`` SDK's :class:`mcp.Client`, over
stdio (:class:`MCPServerStdio`, a subprocess) or streamable HTTP (:class:`MCPServerHTTP`)::

    async with MCPServerStdio("python", ["my_server.py"]) as server:
        agent = Agent(tools=await gather_tools([get_weather], server))
        async with Session(agent, endpoint) as session:
            server.keep_updated(session)   # the server's tools/list_changed -> session.update
            ...

Each server tool becomes an :class:`MCPTool`, an ordinary :class:`~agentkit.tools.Tool` to the
session: the same dispatcher runs it, with its approval hook, timeouts, concurrency limit,
cancellation (a barge-in or a timeout cancels the MCP request) and progress (the server's
progress notifications become :class:`~agentkit.events.ToolProgress`). See docs/mcp.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from agentkit.errors import ConnectionFailedError, ToolDefinitionError
from agentkit.tools import Tool, ToolContext, ToolLike, ToolResult, Toolset
from agentkit.tools.wire_schema import clean_parameters

if TYPE_CHECKING:
    from agentkit.session import Session

try:
    import httpx2
    import jsonschema  # type: ignore[import-untyped, unused-ignore]
    import mcp.types as mcp_types
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.client.subscriptions import SubscriptionLost
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "agentkit.mcp needs the MCP SDK: pip install 'agentkit-realtime[mcp]'"
    ) from exc

__all__ = [
    "MCPServer",
    "MCPServerHTTP",
    "MCPServerStdio",
    "MCPTool",
    "gather_tools",
]

logger = logging.getLogger("agentkit.mcp")

_NAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64
_RESTART_DELAYS = (0.1, 0.5, 2.0)  # then the server is reported as stopped
_STEADY_SECONDS = 1.0  # a connection lost sooner counts as a failed restart


class _Unusable(Exception):
    """A listed tool the realtime API cannot take; it is left out, with this reason."""


class MCPTool(Tool[..., Any]):
    """One tool of an MCP server, as the session declares and dispatches it.

    The name is the server's tool name with the server's ``prefix`` (and any character the
    realtime API does not take in a name replaced by ``_``); the ``parameters`` are the tool's
    ``inputSchema`` reduced to the JSON Schema the realtime API takes (see docs/mcp.md). The
    model's arguments are validated against the server's own schema before any request.

    Attributes:
        server: the server that runs the tool.
        spec: the tool as the server listed it.
        remote_name: the tool's name on the server.
    """

    def __init__(
        self,
        server: MCPServer,
        spec: mcp_types.Tool,
        name: str,
        parameters: dict[str, Any],
        timeout: float | None,
    ) -> None:
        # Not Tool.__init__: that one reads a Python signature, and this tool has a schema.
        self.server = server
        self.spec = spec
        self.remote_name = spec.name
        self.name = name
        self.__name__ = self.__qualname__ = name
        self.description = spec.description or spec.title or ""
        self.timeout = timeout
        self.strict = False
        self.blocking = False
        self.takes_context = True
        self.func = self.__call__
        self._parameters = parameters
        self._input_schema = dict(spec.input_schema)
        self._validator = jsonschema.validators.validator_for(self._input_schema)(
            self._input_schema
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"MCP tool {self.name!r} runs through a session; see MCPTool.invoke")

    def __repr__(self) -> str:
        return f"<MCPTool {self.name!r} of {self.server!r}>"

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema sent to the model (a copy)."""
        return json.loads(json.dumps(self._parameters))  # type: ignore[no-any-return]

    @property
    def input_schema(self) -> dict[str, Any]:
        """The server's own ``inputSchema``, which the arguments are validated against."""
        return json.loads(json.dumps(self._input_schema))  # type: ignore[no-any-return]

    async def invoke(
        self, arguments_json: str, context: ToolContext[Any] | None = None
    ) -> ToolResult:
        """Validate the arguments, call the tool on the server, and describe the outcome.

        Never raises but ``asyncio.CancelledError`` (which cancels the MCP request).
        """
        arguments, problem = self._parse(arguments_json)
        if arguments is None:
            message = f"invalid arguments for {self.name}: {problem}"
            return ToolResult.error(message, error_type="invalid_arguments")
        return await self.server.call(self, arguments, context)

    def _parse(self, arguments_json: str) -> tuple[dict[str, Any] | None, str]:
        try:
            arguments = json.loads(arguments_json) if arguments_json.strip() else {}
        except ValueError as exc:
            return None, f"not valid JSON ({exc})"
        if not isinstance(arguments, dict):
            return None, "the arguments must be a JSON object"
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(arguments))
        if error is not None:
            where = ".".join(str(part) for part in error.absolute_path)
            return None, f"{where}: {error.message}" if where else error.message
        return arguments, ""


class MCPServer:
    """An MCP server seen as a tool source; use :class:`MCPServerStdio` or :class:`MCPServerHTTP`.

    Use it as an async context manager (or :meth:`start` and :meth:`close`); the connection
    lives in a task of its own until then, so one server can serve many sessions. A
    server whose connection drops (a stdio server that crashed) is restarted, up to three
    failed attempts in a row; its calls in flight get an error output, never silence.

    Args:
        name: a label for logs and errors.
        prefix: put before every tool name (``prefix="files"`` makes ``read`` into
            ``files_read``), to keep the names of several servers apart.
        timeout: seconds the dispatcher allows each call of this server's tools (``None``: the
            session's ``tool_timeout``).
        restart: reconnect after the connection is lost (otherwise, and once the attempts
            have failed, the next call tries once).
    """

    def __init__(
        self,
        name: str,
        *,
        prefix: str | None = None,
        timeout: float | None = None,
        restart: bool = True,
    ) -> None:
        self.name = name
        self.prefix = prefix
        self.timeout = timeout
        self.restart = restart
        self.dropped: dict[str, str] = {}
        """Server tools left out, by their server name, with the reason (see docs/mcp.md)."""
        self._tools: list[MCPTool] = []
        self._listed = False
        self._listing: list[mcp_types.Tool] = []
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = False
        self._failure: BaseException | None = None
        self._owner: asyncio.Task[None] | None = None
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self._background: set[asyncio.Task[None]] = set()
        self._refreshing: asyncio.Task[None] | None = None
        self._connected_once = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def protocol_version(self) -> str | None:
        """The MCP protocol version agreed with the server, ``None`` while not connected."""
        client = self._client
        return None if client is None else client.protocol_version

    def _connect(self) -> Client:
        raise NotImplementedError

    async def __aenter__(self) -> MCPServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self, timeout: float = 30.0) -> None:
        """Connect and list the tools.

        Raises:
            ConnectionFailedError: the server could not be started or did not answer within
                ``timeout`` seconds.
        """
        if self._owner is None or self._owner.done():
            self._launch()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            await self.close()
            message = f"MCP server {self.name!r} did not answer in {timeout:g} s"
            raise ConnectionFailedError(message) from None
        if self._client is None:
            message = f"MCP server {self.name!r} did not start: {self._failure}"
            raise ConnectionFailedError(message) from self._failure

    def _launch(self) -> None:
        """Start the connection's task (its events belong to the running loop)."""
        self._stopping = False
        self._failure = None
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._owner = asyncio.create_task(self._run(), name=f"agentkit-mcp-{self.name}")

    async def close(self) -> None:
        """Disconnect (a stdio server's process is stopped); calls still running get errors,
        and so do calls made later, until :meth:`start`."""
        self._stopping = True
        self._failure = ConnectionFailedError("it was closed")
        self._wake.set()
        owner, self._owner = self._owner, None
        if owner is not None:
            await asyncio.gather(owner, return_exceptions=True)
        for task in list(self._background):
            task.cancel()

    async def tools(self) -> list[MCPTool]:
        """The server's tools as agentkit tools (connecting first if never listed)."""
        if not self._listed:
            await self.start()
        return list(self._tools)

    def tools_blocking(self) -> list[MCPTool]:
        """List the tools from code that cannot await, such as a module defining ``agent``
        for ``agentkit run``: connects in a worker thread, lists, disconnects. The tools then
        connect the server on their first call, in the session's event loop.

        Raises:
            ConnectionFailedError: the server could not be started or did not answer.
        """
        found: list[list[MCPTool]] = []
        failure: list[BaseException] = []

        async def list_once() -> None:
            async with self._fresh() as probe:
                found.append(await probe.tools())

        def run() -> None:
            try:
                asyncio.run(list_once())
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=run, name=f"agentkit-mcp-list-{self.name}")
        worker.start()
        worker.join()
        if failure:
            if isinstance(failure[0], ConnectionFailedError):
                raise failure[0]
            message = f"MCP server {self.name!r}: {failure[0]}"
            raise ConnectionFailedError(message) from failure[0]
        self._tools = [
            MCPTool(self, probed.spec, probed.name, probed.parameters, self.timeout)
            for probed in found[0]
        ]
        self._listed = True
        return list(self._tools)

    def _fresh(self) -> MCPServer:
        """An unconnected server with the same settings (for :meth:`tools_blocking`)."""
        raise NotImplementedError

    def keep_updated(self, session: Session) -> None:
        """Send ``session`` a new ``session.update`` whenever this server's tools change (its
        ``tools/list_changed`` notification, or a restart that lists other tools).

        The session's agent keeps its other tools; this server's are replaced. A new tool whose
        name another tool of the agent already has is left out, with an error in the log.
        """
        self._sessions.add(session)

    # -- calls ---------------------------------------------------------------------------

    async def call(
        self, tool: MCPTool, arguments: dict[str, Any], context: ToolContext[Any] | None
    ) -> ToolResult:
        """Run ``tool`` on the server (the dispatcher's deadline and cancellation apply)."""
        client = await self._connected()
        if client is not None and _closed_already(client):  # e.g. a stdio server that exited
            self._lost(client, MCPError(CONNECTION_CLOSED, "Connection closed"))
            client = await self._connected()
        if client is None:
            message = (
                f"{tool.name} failed: MCP server {self.name!r} is not running ({self._failure})"
            )
            return ToolResult.error(message)
        progress = None if context is None else _progress_reporter(context)
        try:
            result = await client.call_tool(tool.remote_name, arguments, progress_callback=progress)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._lost(client, exc)
            return ToolResult.error(f"{tool.name} failed: MCP server {self.name!r}: {exc.message}")
        except Exception as exc:  # a transport failure (HTTP, a malformed result)
            logger.exception("MCP call %s on %s failed", tool.remote_name, self.name)
            return ToolResult.error(f"{tool.name} failed: {type(exc).__name__}: {exc}")
        refreshes = [self._refreshing]
        if self._changes_come_apart(client):
            # A change notice would come on the listen stream, which the result may overtake:
            # only a new listing tells whether this call changed the tools.
            self._refreshing = self._spawn(self._refresh())
            refreshes.append(self._refreshing)
        for refreshing in refreshes:
            if refreshing is not None and not refreshing.done():
                # The call changed the tools: the model hears its output after the session.update.
                await asyncio.shield(refreshing)
        return _to_result(tool.name, result)

    def _changes_come_apart(self, client: Client) -> bool:
        """Whether the server's change notices travel apart from its results (a 2026-07-28
        connection over HTTP: on a ``subscriptions/listen`` stream of its own)."""
        return False

    async def _connected(self) -> Client | None:
        """The live connection, waiting for a (re)connection in progress. A server never
        started (listed by tools_blocking) or given up on gets one more attempt."""
        if (self._owner is None or self._owner.done()) and not self._stopping:
            self._launch()
        if self._client is None and self._owner is not None and not self._owner.done():
            await self._ready.wait()
        return self._client

    def _lost(self, client: Client, exc: BaseException) -> None:
        if client is self._client:
            logger.warning("MCP server %s: connection lost (%s)", self.name, exc)
            self._failure = exc
            self._client = None
            self._ready.clear()
            self._wake.set()

    # -- the connection's task -----------------------------------------------------------

    async def _run(self) -> None:
        """Connect, and reconnect after a loss: at once after a connection that lasted, with
        growing delays after failures and quick losses; at the first failure, never."""
        loop = asyncio.get_running_loop()
        attempts = 0
        self._connected_once = False
        while not self._stopping:
            began = loop.time()
            try:
                await self._session_once()
                lasted = loop.time() - began >= _STEADY_SECONDS
                attempts = 0 if lasted else attempts + 1
            except Exception as exc:
                exc = _first_cause(exc)
                logger.warning("MCP server %s failed: %s: %s", self.name, type(exc).__name__, exc)
                self._failure = exc
                attempts += 1
            self._client = None
            if self._stopping or not (self.restart and self._connected_once):
                break
            if attempts > len(_RESTART_DELAYS):
                break
            if attempts:
                await asyncio.sleep(_RESTART_DELAYS[attempts - 1])
        if not self._stopping:
            logger.error("MCP server %s stopped: %s", self.name, self._failure)
        self._ready.set()  # waiting calls answer "not running"

    async def _session_once(self) -> None:
        self._wake.clear()
        async with self._connect() as client:
            await self._adopt(await _list_tools(client))
            self._client = client
            self._connected_once = True
            self._ready.set()
            listener = self._listen(client)
            try:
                await self._wake.wait()
            finally:
                if listener is not None:
                    listener.cancel()
                    await asyncio.gather(listener, return_exceptions=True)
                if self._client is client:
                    self._client = None
                self._ready.clear()

    def _listen(self, client: Client) -> asyncio.Task[None] | None:
        """On a 2026-07-28 connection, changes arrive on a ``subscriptions/listen`` stream;
        earlier ones send ``notifications/tools/list_changed`` to the message handler."""
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return None
        if not (client.server_capabilities.tools and client.server_capabilities.tools.list_changed):
            return None

        async def listen() -> None:
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    async for _event in subscription:
                        pass  # the message handler also hears it, and refreshes
            except SubscriptionLost as exc:
                self._lost(client, exc)
            except MCPError as exc:
                if exc.code == CONNECTION_CLOSED:
                    self._lost(client, exc)
                else:
                    logger.warning("MCP server %s: no change notifications: %s", self.name, exc)

        return asyncio.create_task(listen(), name=f"agentkit-mcp-listen-{self.name}")

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._refreshing = self._spawn(self._refresh())
        elif isinstance(message, Exception):
            logger.warning("MCP server %s: transport error: %s", self.name, message)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _refresh(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            listing = await _list_tools(client)
        except Exception as exc:
            logger.warning("MCP server %s: listing the changed tools failed: %s", self.name, exc)
            return
        await self._adopt(listing)

    async def _adopt(self, listing: Sequence[mcp_types.Tool]) -> None:
        """Make the tools of a listing; tell the kept sessions when they changed."""
        if self._listed and listing == self._listing:
            return  # as it was (each call on some servers lists again): keep the tools made
        self._listing = list(listing)
        before = {t.name: t.schema() for t in self._tools}
        self._tools, self.dropped = self._convert(listing)
        self._listed = True
        if before and before != {t.name: t.schema() for t in self._tools}:
            for session in list(self._sessions):
                await self._update(session)

    def _convert(self, listing: Sequence[mcp_types.Tool]) -> tuple[list[MCPTool], dict[str, str]]:
        tools: list[MCPTool] = []
        dropped: dict[str, str] = {}
        taken: set[str] = set()
        for spec in listing:
            try:
                made = self._tool(spec)
                if made.name in taken:
                    raise _Unusable(f"another tool of the server is also named {made.name!r}")
            except (_Unusable, ToolDefinitionError) as exc:
                logger.warning("MCP server %s: tool %s left out: %s", self.name, spec.name, exc)
                dropped[spec.name] = str(exc)
                continue
            taken.add(made.name)
            tools.append(made)
        return tools, dropped

    def _tool(self, spec: mcp_types.Tool) -> MCPTool:
        name = _NAME_FORBIDDEN.sub("_", f"{self.prefix}_{spec.name}" if self.prefix else spec.name)
        if len(name) > _MAX_NAME:
            raise _Unusable(f"the name {name!r} is longer than {_MAX_NAME} characters")
        parameters = _parameters(spec.input_schema, name)
        try:
            jsonschema.validators.validator_for(spec.input_schema).check_schema(spec.input_schema)
        except jsonschema.exceptions.SchemaError as exc:
            raise _Unusable(f"its inputSchema is not valid JSON Schema: {exc.message}") from exc
        return MCPTool(self, spec, name, parameters, self.timeout)

    async def _update(self, session: Session) -> None:
        if session.closed:
            self._sessions.discard(session)
            return
        agent = session.agent
        kept = [t for t in agent.toolset if getattr(t, "server", None) is not self]
        names = {t.name for t in kept}
        mine: list[MCPTool] = []
        for t in self._tools:
            if t.name in names:
                logger.error("MCP server %s: tool %s clashes with another tool", self.name, t.name)
            else:
                mine.append(t)
        try:
            await session.update_agent(agent.with_changes(tools=Toolset([*kept, *mine])))
        except Exception:
            logger.exception("MCP server %s: updating the session's tools failed", self.name)


class MCPServerStdio(MCPServer):
    """An MCP server run as a subprocess, spoken to over its stdin and stdout.

    Args:
        command: the executable, e.g. ``"python"``, ``"npx"`` or ``sys.executable``.
        args: its command-line arguments.
        env: extra environment variables (the SDK passes only a safe few of agentkit's own).
        cwd: the working directory.
        errlog: where the server's stderr goes (a file with a descriptor); default: this
            process's stderr.
        name: a label for logs and errors (default: the command and first argument).
        prefix, timeout, restart: see :class:`MCPServer`.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        errlog: TextIO | None = None,
        name: str | None = None,
        prefix: str | None = None,
        timeout: float | None = None,
        restart: bool = True,
    ) -> None:
        self.errlog = errlog
        label = name or " ".join([Path(command).name, *[Path(a).name for a in args[:1]]])
        super().__init__(label, prefix=prefix, timeout=timeout, restart=restart)
        self.params = StdioServerParameters(
            command=command, args=list(args), env=dict(env) if env else None, cwd=cwd
        )

    def _fresh(self) -> MCPServerStdio:
        p = self.params
        return MCPServerStdio(
            p.command, p.args, env=p.env, cwd=p.cwd, errlog=self.errlog, name=self.name,
            prefix=self.prefix,
            timeout=self.timeout, restart=False,
        )  # fmt: skip

    def _connect(self) -> Client:
        transport = stdio_client(self.params, errlog=self.errlog or _stderr())
        return Client(transport, message_handler=self._on_message)


class MCPServerHTTP(MCPServer):
    """An MCP server reached over streamable HTTP, e.g. ``http://127.0.0.1:8000/mcp``.

    Args:
        url: the server's MCP endpoint. Never logged with its query string or credentials.
        headers: sent with every request, e.g. ``{"Authorization": "Bearer ..."}``; never
            logged or shown in a repr.
        name: a label for logs and errors (default: the URL's host and port).
        prefix, timeout, restart: see :class:`MCPServer`.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
        prefix: str | None = None,
        timeout: float | None = None,
        restart: bool = True,
    ) -> None:
        self._headers = dict(headers or {})
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
        super().__init__(name or host, prefix=prefix, timeout=timeout, restart=restart)
        self.url = url

    def _changes_come_apart(self, client: Client) -> bool:
        tools = client.server_capabilities.tools
        listed_changes = tools is not None and bool(tools.list_changed)
        return listed_changes and client.protocol_version in MODERN_PROTOCOL_VERSIONS

    def _fresh(self) -> MCPServerHTTP:
        return MCPServerHTTP(
            self.url, headers=self._headers, name=self.name, prefix=self.prefix, restart=False
        )

    def _connect(self) -> Client:
        if not self._headers:
            return Client(self.url, message_handler=self._on_message)
        return Client(_http_with_headers(self.url, self._headers), message_handler=self._on_message)


async def gather_tools(*sources: MCPServer | Iterable[ToolLike]) -> Toolset:
    """One :class:`Toolset` from local tools and MCP servers, refusing clashing names.

    Raises:
        ToolDefinitionError: two sources offer a tool of the same name; the message names both
            and suggests a ``prefix``.
        ConnectionFailedError: a server could not be started.
    """
    owners: dict[str, str] = {}
    collected: list[ToolLike] = []
    for source in sources:
        if isinstance(source, MCPServer):
            tools: list[ToolLike] = list(await source.tools())
            owner = f"MCP server {source.name!r}"
        else:
            tools = list(Toolset(source))
            owner = "the local tools"
        for t in tools:
            name = t.name if isinstance(t, Tool) else getattr(t, "__name__", "")
            if name in owners:
                message = (
                    f"the name is offered by {owners[name]} and by {owner}; "
                    "give the MCP server a prefix, e.g. MCPServerStdio(..., prefix='docs')"
                )
                raise ToolDefinitionError(name, message)
            owners[name] = owner
        collected.extend(tools)
    return Toolset(collected)


@contextlib.asynccontextmanager
async def _http_with_headers(url: str, headers: Mapping[str, str]) -> AsyncIterator[Any]:
    """The SDK's streamable HTTP transport on an HTTP client that sends ``headers`` (with the
    SDK's own timeouts: a server may hold a response stream open for minutes)."""
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with httpx2.AsyncClient(headers=dict(headers), timeout=timeout) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            yield streams


async def _list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor, cache_mode="refresh")
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools


def _parameters(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The realtime API's form of an ``inputSchema``: refs inlined, unknown keywords dropped."""
    if schema.get("type", "object") != "object":
        raise _Unusable(f"its inputSchema is of type {schema.get('type')!r}, not 'object'")
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    try:
        parameters = clean_parameters({**schema, "$defs": defs}, name, strict=False)
    except KeyError as exc:
        raise _Unusable(f"its inputSchema refers to {exc} and does not define it") from exc
    if schema.get("additionalProperties") is False:
        parameters["additionalProperties"] = False
    return parameters


def _first_cause(exc: Exception) -> Exception:
    """The first real error inside the SDK's task-group exception groups, for a useful message
    ("ConnectError: All connection attempts failed" rather than "unhandled errors...")."""
    inner: object = getattr(exc, "exceptions", None)
    while isinstance(inner, Sequence) and inner and isinstance(inner[0], Exception):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _closed_already(client: Client) -> bool:
    """Whether the SDK has seen the connection end, so that a request would not even be sent.
    Only the SDK's dispatcher knows (a handshake-era connection has no listen stream to lose);
    a dispatcher without that flag counts as open."""
    dispatcher = getattr(client.session, "_dispatcher", None)
    return getattr(dispatcher, "_closed", False) is True


def _stderr() -> TextIO:
    """This process's stderr, or the original one when it was replaced by an object with no
    file descriptor (pytest's capture): a subprocess needs a descriptor."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr
    return sys.stderr


def _progress_reporter(context: ToolContext[Any]) -> Any:
    async def report(progress: float, total: float | None, message: str | None) -> None:
        if message:
            await context.report_progress(message)
        elif total:
            await context.report_progress(f"{progress:g} of {total:g}")
        else:
            await context.report_progress(f"{progress:g}")

    return report


def _to_result(name: str, result: mcp_types.CallToolResult) -> ToolResult:
    """Text content as text; structured content as compact JSON when there is no text, or when
    the text is only that JSON pretty-printed (fewer tokens for the same data)."""
    texts = [_content_text(block) for block in result.content]
    output = "\n".join(text for text in texts if text)
    structured = result.structured_content
    if structured is not None and (not output or _same_json(output, structured)):
        output = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    if result.is_error:
        return ToolResult.error(f"{name} failed: {output or 'the server reported an error'}")
    return ToolResult(output)


def _same_json(text: str, value: object) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


def _content_text(block: Any) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    resource = getattr(block, "resource", None)
    if resource is not None and isinstance(getattr(resource, "text", None), str):
        return str(resource.text)
    kind = getattr(block, "type", "content")
    mime = getattr(block, "mime_type", None) or getattr(resource, "mime_type", None)
    return f"[{kind}{' ' + mime if mime else ''} omitted: the realtime model takes text]"
