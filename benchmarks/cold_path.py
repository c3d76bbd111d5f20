"""The client's path from a round's frames to its replies, in one process, warm and paced.

    .venv/bin/python benchmarks/cold_path.py                 # about 40 s
    .venv/bin/python benchmarks/cold_path.py --rounds 300 --pause-ms 10

``run.py``'s paced round trips move by tens of percent from run to run; this splits out the part
that is the client's own work. Each round hands the benchmark server's three frames
(``response.created``, ``response.output_item.done``, ``response.done``) to the client the way its
socket would, and times until the replies (``function_call_output`` and ``response.create``) are
written, without sockets: for agentkit, a started :class:`~agentkit.session.Session` on a
transport that pushes frames into it as agentkit's own connection does (its listening path) and
stamps the write; for the bare client, ``clients.bare_tool_loop`` itself, reading the frames
from a stand-in for its connection whose reads wake its task as ``websockets``' do. Rounds run
back to back ("warm") and ``--pause-ms`` apart ("paced": the process sleeps, and its caches go
cold, as between a conversation's rounds). The clients take turns, one round each. Medians, in
microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from clients import _AGENTS, NOOP_OUTPUT, bare_tool_loop
from common import median, percentile, pin_to_cpu
from server import SESSION_UPDATED, _ack, _Round
from session_work import started_for_rounds

from agentkit.session import SessionOptions

Listener = Callable[[str], None]


class ListeningTransport:
    """Pushes frames into the session as agentkit's connection does, and stamps the write that
    ends a round (the one holding ``response.create``)."""

    closed = False
    write_paused = False

    def __init__(self) -> None:
        self.written_at = 0
        self._listener: Listener | None = None
        self._chunk_end: Callable[[], None] | None = None

    def listen(self, listener: Listener, chunk_end: Callable[[], None]) -> None:
        self._listener, self._chunk_end = listener, chunk_end

    def push(self, frames: Sequence[str]) -> None:
        """One socket read holding ``frames``."""
        assert self._listener is not None and self._chunk_end is not None
        for frame in frames:
            self._listener(frame)
        self._chunk_end()

    def send_now(self, frames: Sequence[str]) -> None:
        if frames[-1].startswith('{"type":"response.create"'):
            self.written_at = time.perf_counter_ns()
        if frames[0].startswith('{"type":"session.update"'):
            asyncio.get_running_loop().call_soon(self.push, [SESSION_UPDATED])

    async def send(self, data: str) -> None:
        self.send_now([data])

    async def send_many(self, frames: Sequence[str]) -> None:
        self.send_now(frames)

    async def recv(self) -> str:
        await asyncio.get_running_loop().create_future()  # a listening transport: never
        raise AssertionError("unreachable")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = True


class AgentkitClient:
    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.transport = ListeningTransport()

    async def start(self) -> None:
        options = SessionOptions(max_tool_rounds=10**9)
        self.session, self.consumer = await started_for_rounds(
            _AGENTS[self.tool], self.transport, options
        )

    async def round(self, round_: _Round) -> float:
        transport = self.transport
        transport.written_at = 0
        start = time.perf_counter_ns()
        transport.push([round_.created, round_.item_done, round_.done])
        await _written(transport, start, f"agentkit ({self.tool})")
        elapsed = (transport.written_at - start) / 1000
        for _ in range(3):  # what follows the write: the tool task's end, the application
            await asyncio.sleep(0)
        transport.push([_ack(round_, NOOP_OUTPUT)])
        return elapsed

    async def stop(self) -> None:
        self.consumer.cancel()
        await self.session.close()


class FeedSocket:
    """What ``clients.bare_tool_loop`` reads and writes through: the round's frames as one
    socket read, and the write that ends a round stamped."""

    def __init__(self) -> None:
        self.written_at = 0
        self.written = 0
        self._frames: deque[str] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def push(self, frames: Sequence[str]) -> None:
        self._frames.extend(frames)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> FeedSocket:
        return self

    async def __anext__(self) -> str:
        while not self._frames:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._frames.popleft()

    async def send(self, data: str) -> None:
        self.written += 1
        if data == '{"type":"response.create"}':
            self.written_at = time.perf_counter_ns()


class BareClient:
    """``clients.bare_tool_loop`` itself, reading from a :class:`FeedSocket`."""

    tool = "bare"

    def __init__(self) -> None:
        self.socket = FeedSocket()

    async def start(self) -> None:
        self.loop = asyncio.create_task(bare_tool_loop(self.socket))  # type: ignore[arg-type]

    async def round(self, round_: _Round) -> float:
        socket = self.socket
        socket.written_at, socket.written = 0, 0
        start = time.perf_counter_ns()
        socket.push([round_.created, round_.item_done, round_.done])
        await _written(socket, start, "the bare client")
        if socket.written != 2:
            raise RuntimeError(f"the bare client wrote {socket.written} replies, not 2")
        return (socket.written_at - start) / 1000

    async def stop(self) -> None:
        self.loop.cancel()


async def _written(transport: FeedSocket | ListeningTransport, start: int, client: str) -> None:
    """Wait for the write that ends the round. Polled, not awaited on an event: waking a
    waiter would add a loop pass to the figure."""
    deadline = start + 5_000_000_000
    while not transport.written_at:  # a tool in a worker thread answers a little later
        if time.perf_counter_ns() > deadline:
            raise RuntimeError(f"{client} wrote no replies")
        await asyncio.sleep(0)


async def measure(tools: Sequence[str], rounds: int, pause: float) -> dict[str, list[float]]:
    clients: list[Any] = [BareClient(), *(AgentkitClient(tool) for tool in tools)]
    for client in clients:
        await client.start()
    found: dict[str, list[float]] = {client.tool: [] for client in clients}
    warmup = 50
    for number in range(1, warmup + rounds + 1):
        round_ = _Round(number)
        for client in clients:
            await asyncio.sleep(pause)
            elapsed = await client.round(round_)
            if number > warmup:
                found[client.tool].append(elapsed)
    for client in clients:
        await client.stop()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000, help="per client and mode")
    parser.add_argument("--pause-ms", type=float, default=10, help="between paced rounds")
    parser.add_argument("--tools", nargs="+", default=["async", "def"], choices=sorted(_AGENTS))
    parser.add_argument("--no-pin", action="store_true", help="let the scheduler place it")
    args = parser.parse_args(argv)
    if not args.no_pin:
        pin_to_cpu(1)
    print("client path, frames to replies written, microseconds: median (p25-p75)")
    for mode, pause in (("warm", 0.0), (f"paced {args.pause_ms:g} ms", args.pause_ms / 1000)):
        found = asyncio.run(measure(args.tools, args.rounds, pause))
        bare = median(found["bare"])
        for tool, values in found.items():
            spread = f"({percentile(values, 0.25):.1f}-{percentile(values, 0.75):.1f})"
            ratio = "" if tool == "bare" else f"  {median(values) / bare:.2f}x bare"
            print(f"  {mode:<12} {tool:<16} {median(values):7.1f} {spread:<15}{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
