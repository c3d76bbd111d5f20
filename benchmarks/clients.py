"""The two clients under test, each run in a process of its own.

``bare`` is the yardstick the issue asks for: a ``websockets`` connection, ``json.loads`` on every
frame and the minimal replies written by hand. ``agentkit`` is a :class:`agentkit.Session` used the
way an application uses it: an agent with a no-op tool, its events consumed by the app.

Every scenario is a coroutine ``(url, params) -> dict`` of figures measured on the client side
(the round trips themselves are timed by the server).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from common import GcPauses, loop_lags, percentile, pin_to_cpu, raise_open_files, rss_bytes
from websockets.asyncio.client import ClientConnection, connect

from agentkit import tool
from agentkit.agent import Agent
from agentkit.endpoints import Endpoint
from agentkit.events import AudioDelta, SessionClosed
from agentkit.session import Session, SessionOptions

Scenario = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

NOOP_OUTPUT = "ok"
_TOOL_SCHEMA = {"type": "function", "name": "noop", "description": "Do nothing.", "parameters": {}}


@tool
async def noop() -> str:
    """Do nothing (the tool of the round-trip benchmark)."""
    return NOOP_OUTPUT


@tool(name="noop")
def noop_sync() -> str:
    """Do nothing, as a plain function (agentkit runs those in a worker thread)."""
    return NOOP_OUTPUT


@tool(name="noop", blocking=False)
def noop_inline() -> str:
    """Do nothing, as a plain function declared quick (agentkit runs it on the event loop)."""
    return NOOP_OUTPUT


TOOLS = {"async": noop, "def": noop_sync, "def-nonblocking": noop_inline}
"""The tool variants of agentkit's round trips: ``params["tool"]`` picks one."""


# -- the bare websockets client ------------------------------------------------------------------


async def bare_open(url: str) -> ClientConnection:
    """Connect, configure the tool with ``session.update`` and wait for ``session.updated``."""
    ws = await connect(url, max_size=None)
    update = {"type": "session.update", "session": {"type": "realtime", "tools": [_TOOL_SCHEMA]}}
    await ws.send(json.dumps(update))
    async for message in ws:
        if json.loads(message)["type"] == "session.updated":
            break
    return ws


async def bare_tool_loop(ws: ClientConnection) -> None:
    """Answer every function call of every ``response.done`` until the server closes."""
    async for message in ws:
        event = json.loads(message)
        if event["type"] != "response.done":
            continue
        calls = [i for i in event["response"]["output"] if i["type"] == "function_call"]
        for call in calls:
            item = {"type": "function_call_output", "call_id": call["call_id"]}
            item["output"] = NOOP_OUTPUT
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        if calls:
            await ws.send('{"type":"response.create"}')


async def bare_audio(ws: ClientConnection, count: int) -> None:
    """Ask for a response and decode ``count`` audio deltas."""
    await ws.send('{"type":"response.create"}')
    received = 0
    async for message in ws:
        event = json.loads(message)
        if event["type"] == "response.output_audio.delta":
            base64.b64decode(event["delta"])
            received += 1
            if received == count:
                return


async def bare_close(ws: ClientConnection) -> None:
    await ws.close()


# -- agentkit ------------------------------------------------------------------------------------


# One agent and one set of options serve every session, as in an application: both are
# immutable. Every round here is a follow-up of one user turn; lift the per-turn cap on tool
# rounds so the 2,000th call runs the tool like the first (a real conversation resets it).
_AGENTS = {name: Agent(instructions="Benchmark.", tools=[t]) for name, t in TOOLS.items()}
_OPTIONS = SessionOptions(max_tool_rounds=10**9)


async def agentkit_open(url: str, *, tool: str = "async") -> Session:
    endpoint = Endpoint.custom(url, credential="bench")
    session = Session(_AGENTS[tool], endpoint, options=_OPTIONS)
    await session.start()
    return session


async def agentkit_consume(session: Session) -> None:
    """What an application does at least: take every event off the session."""
    async for event in session.events():
        if isinstance(event, SessionClosed):
            return


async def agentkit_audio(session: Session, count: int) -> None:
    await session.create_response()
    received = 0
    async for event in session.events():
        if isinstance(event, AudioDelta):
            event.audio()
            received += 1
            if received == count:
                return


# -- scenarios -----------------------------------------------------------------------------------


async def roundtrip(kind: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """Sequential tool rounds; the server closes when they are done. Returns the CPU used."""
    if kind == "bare":
        ws = await bare_open(url)
        cpu_before = _cpu_seconds()
        await ws.send('{"type":"response.create"}')
        await bare_tool_loop(ws)
        return {"cpu_seconds": _cpu_seconds() - cpu_before}
    session = await agentkit_open(url, tool=params.get("tool", "async"))
    cpu_before = _cpu_seconds()
    consumer = asyncio.create_task(agentkit_consume(session))
    await session.create_response()
    await consumer
    cpu = _cpu_seconds() - cpu_before
    await session.close()
    return {"cpu_seconds": cpu}


async def audio(kind: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """Events per second of a stream of audio deltas, from the request to the last delta."""
    count, repeats = params["n"], params.get("repeats", 3)
    rates = []
    if kind == "bare":
        ws = await bare_open(url)
        for _ in range(repeats):
            start = time.perf_counter()
            await bare_audio(ws, count)
            rates.append(count / (time.perf_counter() - start))
        await ws.close()
    else:
        session = await agentkit_open(url)
        for _ in range(repeats):
            start = time.perf_counter()
            await agentkit_audio(session, count)
            rates.append(count / (time.perf_counter() - start))
        await session.close()
    return {"rates": rates}


async def _open_all(kind: str, url: str, count: int) -> list[Any]:
    """``count`` connected clients; bare ones get a reader task, as a real client has."""
    slots = asyncio.Semaphore(32)

    async def one() -> Any:
        async with slots:
            if kind == "agentkit":
                return await agentkit_open(url)
            ws = await bare_open(url)
            return ws, asyncio.create_task(bare_tool_loop(ws))

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _close_all(kind: str, handles: list[Any]) -> None:
    if kind == "agentkit":
        await asyncio.gather(*(session.close() for session in handles))
        return
    await asyncio.gather(*(ws.close() for ws, _ in handles))
    await asyncio.gather(*(task for _, task in handles), return_exceptions=True)


async def idle(kind: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """Memory per idle connected client: RSS or tracemalloc delta over ``n`` of them."""
    count, traced = params["n"], params["tracemalloc"]
    await _close_all(kind, await _open_all(kind, url, 4))  # warm up: imports, caches
    gc.collect()
    if traced:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
    handles = await _open_all(kind, url, count)
    await asyncio.sleep(0.5)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
    if traced:
        tracemalloc.stop()
    await _close_all(kind, handles)
    return {"bytes_per_session": (after - before) / count}


async def load(kind: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """Many sessions at once, each answering the server's tool rounds; CPU use of the client."""
    handles = await _open_all(kind, url, params["n"])
    # Start the timed window in steady state: without this, whether a full collection left
    # over from opening 1,000 connections lands inside the window is a matter of luck.
    gc.collect()
    if kind == "agentkit":
        waiters = [asyncio.create_task(agentkit_consume(session)) for session in handles]
        triggers = [session.create_response() for session in handles]
    else:
        waiters = [task for _, task in handles]
        triggers = [ws.send('{"type":"response.create"}') for ws, _ in handles]
    stop = asyncio.Event()
    lag_monitor = asyncio.create_task(loop_lags(stop))
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
    with GcPauses() as pauses:
        await asyncio.gather(*triggers)
        await asyncio.gather(*waiters, return_exceptions=True)
    cpu = (_cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
    stop.set()
    lags = await lag_monitor
    await _close_all(kind, handles)
    return {
        "client_cpu": cpu,
        "gc": pauses.summary(),
        "loop_lag_p99": percentile(lags, 0.99),
        "loop_lag_max": max(lags),
    }


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


SCENARIOS = {"roundtrip": roundtrip, "audio": audio, "idle": idle, "load": load}


def run_client(
    kind: str, scenario: str, url: str, params: dict[str, Any], result: Connection
) -> None:
    """Process entry point: run one scenario, send its figures (or its error) to ``result``."""
    raise_open_files()
    pin_to_cpu(1)
    timeout = params.get("timeout", 120)
    try:
        figures = asyncio.run(asyncio.wait_for(SCENARIOS[scenario](kind, url, params), timeout))
    except BaseException as exc:
        result.send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    result.send(figures)
