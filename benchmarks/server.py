"""A minimal realtime server for the benchmarks, on 127.0.0.1 only.

It speaks just enough of the protocol for agentkit's ``Session`` to start (``session.created`` on
connect, ``session.updated`` for every ``session.update``) and no more, so that its own cost per
event stays small and equal for every client. The scenario is chosen by the URL path:

``/roundtrip?calls=N&tag=T[&pause=S][&stamps=1]``
    After the client's first ``response.create``, N tool rounds, back to back or, with
    ``pause``, S seconds apart (a conversation spaces its rounds: the client then waits idle
    between them, as it does against the service). Each round sends
    ``response.created``, ``response.output_item.done`` (a ``function_call`` to ``noop`` with a
    unique ``call_id``) and ``response.done`` holding that call; the round trip runs from just
    before ``response.done`` is written until both the ``function_call_output`` and the
    ``response.create`` have arrived. The output is then acknowledged with
    ``conversation.item.added``, as the service does, and the next round starts. With
    ``stamps=1`` the server also reports, per round, ``time.perf_counter_ns()`` before and
    after writing ``response.done`` and when both replies were in, as
    ``("stamps-" + tag, [(before, after, replied), ...])`` (see ``critical_path.py``).
``/load?rounds=N&period=P&tag=T``
    The same rounds, one every P seconds (random phase), for many connections at once.
``/audio?n=N``
    On ``response.create``: ``response.created``, N ``response.output_audio.delta`` events of
    4,800 bytes of PCM16 (100 ms at 24 kHz) written as fast as the socket takes them, then
    ``response.output_audio.done`` and ``response.done``.
``/idle``
    Nothing but the session events; the connection stays open until the client closes it.

The round-trip durations of each connection are put on a ``multiprocessing`` queue as
``(tag, [seconds, ...])`` when the connection's rounds are over.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import multiprocessing
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue
from typing import Any
from urllib.parse import parse_qs, urlsplit

from common import loop_lags, pin_to_cpu, raise_open_files
from websockets.asyncio.server import ServerConnection, serve

HOST = "127.0.0.1"
AUDIO_CHUNK = base64.b64encode(os.urandom(4800)).decode("ascii")  # 100 ms of 24 kHz PCM16

_SESSION = {"id": "sess_bench", "object": "realtime.session", "type": "realtime"}
_USAGE = {
    "total_tokens": 120,
    "input_tokens": 100,
    "output_tokens": 20,
    "input_token_details": {"cached_tokens": 0, "text_tokens": 100, "audio_tokens": 0},
    "output_token_details": {"text_tokens": 20, "audio_tokens": 0},
}


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


SESSION_UPDATED = _dumps({"type": "session.updated", "event_id": "evt_upd", "session": _SESSION})
"""The answer to every ``session.update``."""


class _Round:
    """The three frames of one tool round, and the acknowledgement of its output."""

    def __init__(self, number: int) -> None:
        self.call_id = f"call_{number:06d}"
        response_id, item_id = f"resp_{number:06d}", f"item_{number:06d}"
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "completed",
            "name": "noop",
            "call_id": self.call_id,
            "arguments": "{}",
        }
        response = {"id": response_id, "object": "realtime.response", "status": "in_progress"}
        self.created = _dumps(
            {"type": "response.created", "event_id": f"evt_{number}a", "response": response}
        )
        self.item_done = _dumps(
            {
                "type": "response.output_item.done",
                "event_id": f"evt_{number}b",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            }
        )
        done = {**response, "status": "completed", "output": [item], "usage": _USAGE}
        self.done = _dumps(
            {"type": "response.done", "event_id": f"evt_{number}c", "response": done}
        )
        self.item_id = item_id


def _ack(round_: _Round, output: str) -> str:
    item = {
        "id": round_.item_id + "_out",
        "object": "realtime.item",
        "type": "function_call_output",
        "call_id": round_.call_id,
        "output": output,
    }
    event = {"type": "conversation.item.added", "event_id": "evt_ack", "item": item}
    return _dumps({**event, "previous_item_id": round_.item_id})


class _Conversation:
    """One connection: answers session events and waits for what a scenario expects."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.stamps: list[tuple[int, int, int]] = []

    async def next_event(self) -> dict[str, Any]:
        """The next client event, after answering it if it is a ``session.update``."""
        while True:
            event = json.loads(await self.ws.recv())
            if event.get("type") != "session.update":
                return dict(event)
            await self.ws.send(SESSION_UPDATED)

    async def wait_for(self, event_type: str) -> dict[str, Any]:
        while True:
            event = await self.next_event()
            if event.get("type") == event_type:
                return event

    async def tool_round(self, number: int) -> float:
        """One timed round trip: response.done out, output and response.create in."""
        round_ = _Round(number)
        await self.ws.send(round_.created)
        await self.ws.send(round_.item_done)
        start, before = time.perf_counter(), time.perf_counter_ns()
        await self.ws.send(round_.done)
        after = time.perf_counter_ns()
        output, created = None, False
        while output is None or not created:
            event = await self.next_event()
            kind = event.get("type")
            item = event.get("item") or {}
            if kind == "conversation.item.create" and item.get("call_id") == round_.call_id:
                output = item.get("output", "")
            elif kind == "response.create":
                created = True
        elapsed = time.perf_counter() - start
        self.stamps.append((before, after, time.perf_counter_ns()))
        await self.ws.send(_ack(round_, output))
        return elapsed


async def _roundtrip(conv: _Conversation, params: dict[str, str], results: Queue[Any]) -> None:
    calls, pause = int(params.get("calls", "100")), float(params.get("pause", "0"))
    await conv.wait_for("response.create")
    durations = []
    for number in range(1, calls + 1):
        if pause and number > 1:
            await asyncio.sleep(pause)
        durations.append(await conv.tool_round(number))
    tag = params.get("tag", "roundtrip")
    results.put((tag, durations))
    if params.get("stamps") == "1":
        results.put(("stamps-" + tag, conv.stamps))


async def _load(conv: _Conversation, params: dict[str, str], results: Queue[Any]) -> None:
    rounds, period = int(params.get("rounds", "10")), float(params.get("period", "1"))
    await conv.wait_for("response.create")
    loop = asyncio.get_running_loop()
    start = loop.time() + random.uniform(0, period)
    durations = []
    for number in range(1, rounds + 1):
        await asyncio.sleep(max(0.0, start + (number - 1) * period - loop.time()))
        durations.append(await conv.tool_round(number))
    results.put((params.get("tag", "load"), durations))


async def _audio(conv: _Conversation, params: dict[str, str]) -> None:
    count = int(params.get("n", "1000"))
    stream = 0
    while True:
        await conv.wait_for("response.create")
        stream += 1  # a fresh response id per stream, as the service gives
        response_id, item_id = f"resp_audio_{stream}", f"item_audio_{stream}"
        ids = {"response_id": response_id, "item_id": item_id, "output_index": 0}
        response = {"id": response_id, "object": "realtime.response", "status": "in_progress"}
        await conv.ws.send(_dumps({"type": "response.created", "response": response}))
        head = '{"type":"response.output_audio.delta","event_id":"evt_'
        tail = f'","response_id":"{response_id}","item_id":"{item_id}","output_index":0,'
        tail += '"content_index":0,"delta":"' + AUDIO_CHUNK + '"}'
        for number in range(count):
            await conv.ws.send(head + str(number) + tail)
        done = {"type": "response.output_audio.done", "content_index": 0, **ids}
        await conv.ws.send(_dumps(done))
        response = {**response, "status": "completed", "output": []}
        await conv.ws.send(_dumps({"type": "response.done", "response": response}))


class _Stalls:
    """The server's own event-loop lag while timed connections are open.

    The server runs without the cyclic garbage collector (it collects when no connection is
    open), so its pauses do not land in the clients' figures; this records what remains.
    """

    def __init__(self) -> None:
        self.open = 0
        self.lags: list[float] = []
        self._stop = asyncio.Event()
        self._monitor: asyncio.Task[list[float]] | None = None

    def enter(self) -> None:
        self.open += 1
        if self._monitor is None:
            self._stop.clear()
            self._monitor = asyncio.create_task(loop_lags(self._stop))

    async def leave(self, tag: str, results: Queue[Any]) -> None:
        self.open -= 1
        if self.open == 0 and self._monitor is not None:
            self._stop.set()
            lags, self._monitor = await self._monitor, None
            results.put(("lag-" + tag, lags))
            gc.collect()


async def _handle(ws: ServerConnection, results: Queue[Any], stalls: _Stalls) -> None:
    assert ws.request is not None
    url = urlsplit(ws.request.path)
    params = {key: values[-1] for key, values in parse_qs(url.query).items()}
    conv = _Conversation(ws)
    await ws.send(_dumps({"type": "session.created", "event_id": "evt_0", "session": _SESSION}))
    timed = url.path in ("/roundtrip", "/load")
    if timed:
        stalls.enter()
    try:
        if url.path == "/roundtrip":
            await _roundtrip(conv, params, results)
        elif url.path == "/load":
            await _load(conv, params, results)
        elif url.path == "/audio":
            await _audio(conv, params)
        else:
            while True:
                await conv.next_event()
    except Exception:  # a client that goes away ends its connection, not the server
        return
    finally:
        if timed:
            await stalls.leave(params.get("tag", url.path), results)


async def _serve(control: Connection, results: Queue[Any]) -> None:
    loop, stalls = asyncio.get_running_loop(), _Stalls()
    gc.collect()
    gc.freeze()
    gc.disable()
    async with serve(
        lambda ws: _handle(ws, results, stalls),
        HOST,
        0,
        compression=None,
        max_size=None,
        ping_interval=None,
        backlog=2048,
    ) as server:
        control.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, control.recv)  # any message means stop


def run_server(control: Connection, results: Queue[Any]) -> None:
    """Process entry point: serve until ``control`` receives a message; report the port."""
    raise_open_files()
    pin_to_cpu(0)
    asyncio.run(_serve(control, results))


@contextmanager
def serving() -> Iterator[tuple[SpawnContext, int, Queue[Any]]]:
    """Run the benchmark server in its own process; yield the context, its port, its results."""
    ctx = multiprocessing.get_context("spawn")
    results: Queue[Any] = ctx.Queue()
    control, server_end = ctx.Pipe()
    process = ctx.Process(target=run_server, args=(server_end, results), daemon=True)
    process.start()
    try:
        if not control.poll(30):
            raise RuntimeError("the benchmark server did not start")
        yield ctx, control.recv(), results
    finally:
        control.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
