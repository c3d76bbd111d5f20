"""Drive Debian's headless Chromium over the Chrome DevTools Protocol.

Only a handful of CDP commands are needed (open a page, evaluate JavaScript, read console
output), so this speaks CDP directly over the ``websockets`` library agentkit already depends
on, rather than pulling in a browser-automation package.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.support import TIMEOUT

CHROMIUM = shutil.which("chromium")
"""Debian's ``chromium`` package (``.ci/run`` installs it), or ``None``."""

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine's network is closed: no phoning home
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)

_DEVTOOLS_URL = re.compile(r"DevTools listening on (ws://\S+)")

# Resolves with the predicate's first truthy value; re-checked on every DOM change, so waiting
# costs nothing between changes and needs no polling.
_WAIT_FOR = """
(predicate) => new Promise((resolve) => {
  const check = () => {
    const value = predicate();
    if (value) { observer.disconnect(); resolve(value); }
    return value;
  };
  const observer = new MutationObserver(check);
  if (!check()) {
    observer.observe(document, {subtree: true, childList: true, characterData: true,
                                attributes: true});
  }
})
"""


class CdpError(Exception):
    """A CDP command failed, or the page threw."""


class Browser:
    """One Chromium process and one CDP connection; pages are flattened target sessions."""

    def __init__(self, process: asyncio.subprocess.Process, connection: ClientConnection) -> None:
        self.process = process
        self.stderr: deque[str] = deque(maxlen=200)
        self._connection = connection
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    @asynccontextmanager
    async def launch(cls, user_data_dir: Path, flags: Sequence[str] = ()) -> AsyncIterator[Browser]:
        """Start Chromium with a fresh profile in ``user_data_dir``; stop it on exit."""
        assert CHROMIUM is not None, "chromium is not installed"
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *HEADLESS_FLAGS,
            *flags,
            f"--user-data-dir={user_data_dir}",
            "--remote-debugging-port=0",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        browser: Browser | None = None
        try:
            url = await asyncio.wait_for(_devtools_url(process), TIMEOUT)
            connection = await connect(url, max_size=None, open_timeout=TIMEOUT)
            browser = cls(process, connection)
            browser._start()
            yield browser
        finally:
            if browser is not None:
                await browser._stop()
            if process.returncode is None:
                process.kill()
            await asyncio.wait_for(process.wait(), TIMEOUT)

    async def new_page(self, url: str, *, record_network: bool = False) -> Page:
        """Open a tab, attach to it and load ``url`` (returns after the load event).

        ``record_network`` keeps every HTTP response of the tab (see :meth:`Page.received`).
        """
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        self._pages[page.session_id] = page
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        if record_network:
            await page.send("Network.enable")
        loaded = page.expect("Page.loadEventFired")
        await page.send("Page.navigate", {"url": url})
        await asyncio.wait_for(loaded, TIMEOUT)
        return page

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """Send one CDP command and return its result."""
        command: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session_id is not None:
            command["sessionId"] = session_id
        reply = asyncio.get_running_loop().create_future()
        self._pending[command["id"]] = reply
        await self._connection.send(json.dumps(command))
        message = await reply
        if "error" in message:
            raise CdpError(f"{method}: {message['error']}")
        result: dict[str, Any] = message.get("result", {})
        return result

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._read()))
        self._tasks.append(loop.create_task(self._drain_stderr()))

    async def _stop(self) -> None:
        with suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), TIMEOUT)
        await self._connection.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for frame in self._connection:
                message = json.loads(frame)
                if "id" in message:
                    reply = self._pending.pop(message["id"], None)
                    if reply is not None and not reply.done():
                        reply.set_result(message)
                elif (page := self._pages.get(message.get("sessionId", ""))) is not None:
                    page._on_event(message["method"], message.get("params", {}))
        finally:
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(CdpError("the browser connection closed"))

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace").rstrip())


class Page:
    """One tab: evaluate JavaScript, wait for DOM conditions, see console output and errors."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id
        self.console: list[str] = []
        self.errors: list[str] = []
        self.responses: dict[str, dict[str, Any]] = {}
        """Each HTTP response by request id (with ``record_network``): url, status, headers."""
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, self.session_id)

    def expect(self, method: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next event ``method`` (create it before causing the event)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(method, []).append(waiter)
        return waiter

    async def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The JSON value of ``expression`` in the page; raises :class:`CdpError` if it throws."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": await_promise, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(_describe_exception(result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, predicate: str, timeout: float) -> Any:
        """Wait until the JavaScript expression ``predicate`` is truthy; return its value.

        Raises ``TimeoutError`` with what the page shows, logged and threw, for the test report.
        """
        try:
            return await asyncio.wait_for(
                self.evaluate(f"({_WAIT_FOR})(() => ({predicate}))", await_promise=True), timeout
            )
        except asyncio.TimeoutError:  # not the builtin one before Python 3.11
            report = await self.report()
            raise asyncio.TimeoutError(
                f"waited {timeout:.0f} s for {predicate}\n{report}"
            ) from None

    async def report(self) -> str:
        """What the page shows, logged and threw, and Chromium's last words: for failures."""
        try:
            text = await asyncio.wait_for(self.evaluate("document.body.innerText"), TIMEOUT)
        except Exception as exc:
            text = f"(could not read the page: {exc})"
        lines = [line for line in self.browser.stderr if "dbus" not in line]  # no D-Bus here
        stderr = "\n".join(lines[-30:])
        return (
            f"--- page text ---\n{text}\n--- console ---\n"
            + "\n".join(self.console)
            + "\n--- page errors ---\n"
            + "\n".join(self.errors)
            + f"\n--- chromium stderr (last lines) ---\n{stderr}"
        )

    async def received(self) -> str:
        """Everything the tab received over HTTP: each response's URL, headers and body."""
        parts = []
        for request_id, response in self.responses.items():
            try:
                body = await self.send("Network.getResponseBody", {"requestId": request_id})
            except CdpError:  # no body (a 204, a redirect)
                body = {}
            text = body.get("body", "")
            if body.get("base64Encoded"):
                text = base64.b64decode(text).decode("latin-1")
            parts.append(json.dumps(response) + "\n" + text)
        return "\n".join(parts)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.responseReceived":
            response = params["response"]
            self.responses[params["requestId"]] = {
                "url": response["url"],
                "status": response["status"],
                "headers": response.get("headers", {}),
            }
        elif method == "Runtime.consoleAPICalled":
            values = (arg.get("value", arg.get("description", "")) for arg in params["args"])
            self.console.append(f"{params['type']}: " + " ".join(map(str, values)))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(_describe_exception(params["exceptionDetails"]))
        for waiter in self._waiters.pop(method, []):
            if not waiter.done():
                waiter.set_result(params)


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    """Chromium prints where its DevTools endpoint listens on stderr at startup."""
    assert process.stderr is not None
    seen: list[str] = []
    async for line in process.stderr:
        text = line.decode(errors="replace")
        if match := _DEVTOOLS_URL.search(text):
            return match.group(1)
        seen.append(text.rstrip())
    raise CdpError("chromium exited before its DevTools endpoint came up:\n" + "\n".join(seen))


def _describe_exception(details: dict[str, Any]) -> str:
    exception = details.get("exception", {})
    return str(exception.get("description") or details.get("text", "an exception"))
