"""A session on a real WebSocket to the simulator, and a recorder of its application events."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, get_args

from agentkit.agent import Agent
from agentkit.endpoints import Endpoint
from agentkit.events import Event
from agentkit.session import Session, SessionOptions
from agentkit.testing import ConnectionRecord, Scenario, Simulator, Turn
from agentkit.transport import connect
from tests.support import TIMEOUT

E = TypeVar("E")
T = TypeVar("T")


class Recorder:
    """Every application event of a session, in order, with waits that time out."""

    def __init__(self, session: Session) -> None:
        self.events: list[Event] = []
        self.stamps: list[float] = []
        self._changed = asyncio.Event()
        for event_type in get_args(Event):
            session.on(event_type, self._record)

    def _record(self, event: Event) -> None:
        self.events.append(event)
        self.stamps.append(time.monotonic())
        self._changed.set()

    def of(self, event_type: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, event_type)]

    def index(self, predicate: Callable[[Event], bool]) -> int:
        return next(i for i, e in enumerate(self.events) if predicate(e))

    async def until(self, found: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
        async def wait() -> T:
            while (value := found()) is None:
                self._changed.clear()
                await self._changed.wait()
            return value

        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            seen = ", ".join(type(e).__name__ for e in self.events)
            raise AssertionError(f"timed out; events so far: {seen}") from None

    async def wait_for(
        self,
        event_type: type[E],
        where: Callable[[E], bool] = lambda e: True,
        count: int = 1,
    ) -> E:
        def found() -> E | None:
            matches = [e for e in self.of(event_type) if where(e)]
            return matches[count - 1] if len(matches) >= count else None

        return await self.until(found)


class Live:
    """What a loopback test holds: the simulator, its connection record, the session."""

    def __init__(self, sim: Simulator, session: Session, recorder: Recorder) -> None:
        self.sim = sim
        self.session = session
        self.events = recorder

    @property
    def conn(self) -> ConnectionRecord:
        return self.sim.connections[0]

    def client_types(self) -> list[str]:
        return self.conn.received.types()

    def client(self, event_type: str) -> list[dict[str, Any]]:
        return self.conn.received.of_type(event_type)

    def outputs(self) -> list[dict[str, Any]]:
        """The function_call_output items the client sent, in order."""
        return [
            e["item"]
            for e in self.client("conversation.item.create")
            if e["item"].get("type") == "function_call_output"
        ]

    async def output_for(self, call_id: str) -> str:
        """The output the server received for ``call_id`` (waiting for it to arrive: the app
        hears ToolCallFinished as the output is queued, a moment before it is on the wire)."""
        await self.sim.wait_for(
            "conversation.item.create",
            timeout=TIMEOUT,
            where=lambda e: (
                e["item"].get("type") == "function_call_output"
                and e["item"].get("call_id") == call_id
            ),
        )
        (item,) = [i for i in self.outputs() if i["call_id"] == call_id]
        return str(item["output"])

    def server_calls(self) -> list[dict[str, Any]]:
        """Every distinct function_call item the simulator produced."""
        calls = {}
        for event in self.conn.sent.of_type("response.output_item.done"):
            if event["item"]["type"] == "function_call":
                calls[event["item"]["call_id"]] = event["item"]
        return list(calls.values())

    async def assert_one_output_per_call(self) -> None:
        """Every call the simulator made got exactly one output on the wire (waiting for the
        last ones to arrive: the app hears of a result as its output is queued)."""
        expected = [call["call_id"] for call in self.server_calls()]
        if expected:
            await self.sim.wait_for(
                "conversation.item.create",
                count=len(expected),
                timeout=TIMEOUT,
                where=lambda e: e["item"].get("type") == "function_call_output",
            )
        posted = [item["call_id"] for item in self.outputs()]
        assert sorted(posted) == sorted(expected), (posted, expected)

    async def wait_client(self, event_type: str, count: int = 1, **kw: Any) -> dict[str, Any]:
        return await self.conn.received.wait_for(event_type, count, TIMEOUT, **kw)

    async def wait_server(self, event_type: str, count: int = 1, **kw: Any) -> dict[str, Any]:
        return await self.conn.sent.wait_for(event_type, count, TIMEOUT, **kw)


@asynccontextmanager
async def live(
    scenario: Scenario | Turn,
    agent: Agent,
    *,
    options: SessionOptions | None = None,
    preview: bool = False,
    deps: Any = None,
    connect_options: dict[str, Any] | None = None,
    **sim_options: Any,
) -> AsyncIterator[Live]:
    """``connect_options`` go to :func:`agentkit.transport.connect` (none: the session's own
    connector)."""
    async with Simulator(scenario, **sim_options) as sim:
        url = sim.preview_url() if preview else sim.ga_url()
        endpoint = Endpoint.custom(url, credential=sim.api_key)
        connector = None
        if connect_options is not None:
            connector = functools.partial(connect, endpoint, **connect_options)
        session = Session(agent, endpoint, options=options, deps=deps, connector=connector)
        recorder = Recorder(session)
        async with session:
            yield Live(sim, session, recorder)
