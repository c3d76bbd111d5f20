"""A sideband session's record names its call, and resuming on that call replays nothing
(in one process, over real sockets to the simulator; the worker takeover is in
test_sideband_takeover.py)."""

from __future__ import annotations

import json
from typing import Any

from agentkit import Agent, Endpoint, Session
from agentkit.background import SessionRecord, record_of, resume
from agentkit.calls import CallControl, SidebandSession
from agentkit.history import new_entry
from agentkit.testing import Scenario, Simulator
from tests.support import ask

KEY = "sk-sideband-record-test"
BARRIER = "[barrier]"
OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
agent = Agent(name="orders", instructions="Help callers with orders.", modality="text")


def saved(call_id: str | None) -> SessionRecord:
    """A record of a conversation with one answered call and one that never got an output."""

    def entry(item_id: str, kind: str, **fields: str) -> dict[str, object]:
        return {**new_entry(item_id, kind), "status": "completed", **fields}

    history = [
        entry("item_u", "message", role="user", text="hello"),
        entry("item_a", "message", role="assistant", text="Hi."),
        entry("item_c1", "function_call", name="lookup", call_id="call_1", arguments="{}"),
        entry("item_o1", "function_call_output", call_id="call_1", output="ok"),
        entry("item_c2", "function_call", name="book", call_id="call_2", arguments="{}"),
    ]
    usage = {"input_tokens": 40, "output_tokens": 12, "responses": 2}
    return SessionRecord("conv-1", "orders", history=history, usage=usage, call_id=call_id)


async def open_call(sim: Simulator) -> str:
    endpoint = Endpoint.custom(sim.openai_url(), credential=KEY)
    control = CallControl(endpoint, api_base_url=sim.calls.api_base)
    return (await control.create_call(OFFER)).call_id


async def created(sim: Simulator, index: int, session: Session) -> list[dict[str, Any]]:
    """The items a session created on its socket so far (a marker message shows all are in)."""
    await session.send_text(BARRIER, respond=False)
    log = sim.connections[index].received
    await log.wait_for("conversation.item.create", where=lambda e: BARRIER in str(e))
    return [e["item"] for e in log.of_type("conversation.item.create")][:-1]


async def test_a_sideband_record_names_its_call_and_an_old_record_none() -> None:
    async with Simulator(Scenario().otherwise("Hello."), api_key=KEY) as sim:
        call_id = await open_call(sim)
        endpoint = Endpoint.custom(sim.openai_url(), credential=KEY)
        async with SidebandSession(call_id, agent, endpoint) as sideband:
            record = record_of(sideband, "conv-1")
        assert record.call_id == call_id
        assert SessionRecord.from_json(record.to_json()) == record
        async with Session(agent, endpoint) as session:
            await ask(session, "hi")
            assert record_of(session, "conv-2").call_id is None
    older = json.loads(record.to_json())
    del older["call_id"]  # saved before records named their call
    assert SessionRecord.from_json(json.dumps(older)).call_id is None


async def test_resuming_on_the_records_own_call_replays_nothing_and_names_lost_calls() -> None:
    async with Simulator(Scenario().otherwise("Hello."), api_key=KEY) as sim:
        call_id = await open_call(sim)
        endpoint = Endpoint.custom(sim.openai_url(), credential=KEY)
        async with SidebandSession(call_id, agent, endpoint) as sideband:
            assert await resume(sideband, saved(call_id)) == 0
            (note,) = await created(sim, 0, sideband)
            assert note["role"] == "system"
            assert "book (call call_2)" in str(note) and "call_1" not in str(note)
            assert (sideband.usage.input_tokens, sideband.usage.responses) == (40, 2)
        # another call (or a socket of its own) does not hold this conversation: replayed
        other = await open_call(sim)
        async with SidebandSession(other, agent, endpoint) as sideband:
            assert await resume(sideband, saved(call_id)) == 4
            kinds = [item["type"] for item in await created(sim, 1, sideband)]
            assert kinds == ["message", "message", "function_call", "function_call_output"] + [
                "message"
            ]


async def test_a_sideband_record_with_nothing_lost_sends_nothing() -> None:
    record = saved(None)
    record.history = record.history[:4]
    async with Simulator(Scenario().otherwise("Hello."), api_key=KEY) as sim:
        call_id = await open_call(sim)
        record.call_id = call_id
        endpoint = Endpoint.custom(sim.openai_url(), credential=KEY)
        async with SidebandSession(call_id, agent, endpoint) as sideband:
            assert await resume(sideband, record) == 0
            assert sideband.usage.output_tokens == 12
            assert await created(sim, 0, sideband) == []
