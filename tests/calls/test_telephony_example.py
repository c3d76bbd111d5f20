"""examples/telephony: the webhook endpoint served by uvicorn, the simulator as the service.

The simulator posts signed ``realtime.call.incoming`` webhooks to the example app on a free
127.0.0.1 port; the app accepts the call, runs its agent on the sideband, and a refer and a
hang-up end it. Forged, stale and replayed webhooks are refused with no call touched.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from agentkit import CallControl, ConfigurationError, Endpoint, WebhookVerifier
from agentkit.calls import RedisReplayStore
from agentkit.endpoints import configured_variables
from agentkit.testing import Simulator
from tests.calls.support import CANARY_KEY
from tests.support import TIMEOUT

pytest.importorskip("standardwebhooks")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from examples.telephony.agent import scenario
from examples.telephony.app import WEBHOOK_PATH, Switchboard, create_app
from examples.telephony.simulate import CALLER, serve

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Phone:
    """The example app served by uvicorn, the simulator behind it, and what the app reported."""

    def __init__(self, sim: Simulator, board: Switchboard, base: str) -> None:
        self.sim = sim
        self.board = board
        self.url = base + WEBHOOK_PATH
        self.base = base
        self.replies: list[Reply] = []

    async def post(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST to the example's endpoint and keep its whole reply (status, headers, body)."""
        request = urllib.request.Request(self.url, data=body, method="POST")
        for name, value in {"Content-Type": "application/json", **headers}.items():
            request.add_header(name, value)
        reply = await asyncio.to_thread(_send, request)
        self.replies.append(reply)
        return reply


def _send(request: urllib.request.Request) -> Reply:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, dict(exc.headers.items()), exc.read())


@asynccontextmanager
async def phone(report: list[str]) -> AsyncIterator[Phone]:
    async with Simulator(scenario, api_key=CANARY_KEY) as sim:
        endpoint = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        control = CallControl(endpoint, api_base_url=sim.calls.api_base)
        verifier = WebhookVerifier(sim.calls.webhook_secret)
        board = Switchboard(endpoint, control, verifier, report=report.append)
        async with serve(create_app(board)) as base:
            yield Phone(sim, board, base)


async def step(waiting: Awaitable[T]) -> T:
    return await asyncio.wait_for(waiting, TIMEOUT)


def _outputs(sim: Simulator) -> list[str]:
    return [
        e["item"]["output"]
        for e in sim.received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]


async def test_accept_tool_refer_hang_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    report: list[str] = []
    async with phone(report) as app:
        sim = app.sim
        delivery = await sim.calls.incoming_call(app.url, sip_headers=CALLER)
        assert delivery.status == 200
        line = app.board.lines[delivery.call_id]
        await step(line.attached.wait())
        call = sim.calls.calls[delivery.call_id]
        assert call.status == "active"
        assert call.session["instructions"] == app.board.agent.instructions
        names = [t["name"] for t in call.session["tools"]]
        assert names == ["lookup_order", "transfer_to_human", "end_call"]

        await sim.calls.caller_says(delivery.call_id, "Hi, I'm calling about my order.")
        assert "keypad" in await step(line.next_reply())
        await sim.press_keys("42#")  # DTMF reaches the model as one entry
        assert await step(line.next_reply()) == "Order 42: shipped yesterday, arriving Friday."
        typed = [
            e["item"]["content"][0]["text"]
            for e in sim.received
            if e["type"] == "conversation.item.create" and e["item"].get("role") == "user"
        ]
        assert typed == ["[The caller typed 42 on the phone keypad.]"]

        await sim.calls.caller_says(delivery.call_id, "Thanks. Can I talk to a person?")
        await step(line.ended())
        assert call.referred_to == ["tel:+14155550123"]
        assert sim.calls.calls[delivery.call_id].status == "ended"  # re-read: it moved on
        assert _outputs(sim) == [
            "Order 42: shipped yesterday, arriving Friday.",  # X-Customer-Id c-77 owns it
            "Transfer started: tell the caller they are being put through, then stop.",
        ]
        assert delivery.call_id not in app.board.lines
        again = await app.post(delivery.body, dict(delivery.headers))
        assert again.status == 400  # the same delivery again is a replay

    story = [entry.replace(delivery.call_id, "CALL") for entry in report]
    # The tool reports its refer itself, beside the session's events: anywhere in its turn.
    refer = story.index("refer CALL -> tel:+14155550123")
    assert story.index("tool transfer_to_human({})") - 1 <= refer
    assert refer < story.index("agent: I'm putting you through to a colleague now. Goodbye!")
    del story[refer]
    assert story == [
        "incoming call CALL from '\"Ada\" <sip:+15550001111@carrier.example>'",
        "accepted CALL as 'front-desk'",
        "sideband attached to CALL",
        "caller: Hi, I'm calling about my order.",
        "agent: Please type your order number on the keypad, then press the hash key.",
        "keypad: 4",
        "keypad: 2",
        "keypad: #",
        'tool lookup_order({"order_id": "42"})',
        "  -> Order 42: shipped yesterday, arriving Friday.",
        "agent: Order 42: shipped yesterday, arriving Friday.",
        "caller: Thanks. Can I talk to a person?",
        "tool transfer_to_human({})",
        "  -> Transfer started: tell the caller they are being put through, then stop.",
        "agent: I'm putting you through to a colleague now. Goodbye!",
        "hang-up CALL",
        "call CALL ended",
    ]
    assert CANARY_KEY not in caplog.text
    assert not any(CANARY_KEY in entry for entry in report)
    assert not any(CANARY_KEY.encode() in exchange.body for exchange in sim.calls.exchanges)


async def test_the_caller_ends_the_call_without_a_transfer() -> None:
    report: list[str] = []
    async with phone(report) as app:
        sim = app.sim
        delivery = await sim.calls.incoming_call(app.url, sip_headers=CALLER)
        line = app.board.lines[delivery.call_id]
        await step(line.attached.wait())
        await sim.calls.caller_says(delivery.call_id, "That's all, bye.")
        await step(line.ended())
        call = sim.calls.calls[delivery.call_id]
        assert call.status == "ended" and call.referred_to == []
        assert "agent: Thanks for calling Acme. Goodbye!" in report
        assert report.index("agent: Thanks for calling Acme. Goodbye!") < report.index(
            f"hang-up {delivery.call_id}"
        )  # the caller hears the goodbye before the line drops


async def test_forged_stale_and_replayed_webhooks_are_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    report: list[str] = []
    async with phone(report) as app:
        sim = app.sim
        forged = await sim.calls.incoming_call(app.url, secret="whsec_" + "A" * 44)
        stale = await sim.calls.incoming_call(app.url, timestamp=time.time() - 600)
        genuine = await sim.calls.incoming_call(app.url, sip_headers=CALLER)
        replayed = await sim.calls.deliver(app.url, genuine.body, genuine.headers)
        assert [forged.status, stale.status, genuine.status, replayed] == [400, 400, 200, 400]
        refusals = [r.getMessage() for r in caplog.records if r.name == "examples.telephony"]
        assert any("signature" in message for message in refusals)
        assert any("tolerance" in message for message in refusals)
        assert any("replayed" in message for message in refusals)

        # The same refusals read whole: nothing in them but a short refusal.
        event = json.loads(genuine.body)
        event["data"]["call_id"] = "rtc_someone_else"
        tampered = json.dumps(event).encode()
        old = sim.calls.sign(genuine.body, "wh_old", time.time() - 600)
        for reply in (
            await app.post(tampered, dict(genuine.headers)),
            await app.post(genuine.body, old),
            await app.post(genuine.body, dict(genuine.headers)),
            await app.post(genuine.body, {}),
        ):
            assert reply.status == 400
            assert json.loads(reply.body) == {"error": "webhook refused"}

        line = app.board.lines[genuine.call_id]
        await step(line.attached.wait())
        assert list(app.board.lines) == [genuine.call_id]  # only the genuine call answered
        for refused in (forged, stale):
            assert sim.calls.calls[refused.call_id].status == "ringing"
        accepts = [x.path for x in sim.calls.exchanges if x.path.endswith("/accept")]
        assert accepts == [f"/v1/realtime/calls/{genuine.call_id}/accept"]

        everything = b"".join(r.body + json.dumps(dict(r.headers)).encode() for r in app.replies)
        assert CANARY_KEY.encode() not in everything
    assert CANARY_KEY not in caplog.text


async def test_other_events_and_oversized_bodies_start_no_call() -> None:
    report: list[str] = []
    async with phone(report) as app:
        sim = app.sim
        other = json.dumps({"type": "realtime.call.ended", "data": {"call_id": "x"}}).encode()
        reply = await app.post(other, sim.calls.sign(other, "wh_other", time.time()))
        assert reply.status == 204
        huge = b"{" + b" " * (128 * 1024) + b"}"
        reply = await app.post(huge, sim.calls.sign(huge, "wh_huge", time.time()))
        assert reply.status == 413
        assert app.board.lines == {} and report == []


def test_one_command_plays_a_call_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in configured_variables()}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "examples.telephony", "--simulate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 12,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("the phone rings: the service posts realtime.call.incoming to ")
    assert 'tool lookup_order({"order_id": "42"})' in lines
    assert any(line.startswith("refer rtc_") for line in lines)
    assert any(line.startswith("hang-up rtc_") for line in lines)
    assert "the same webhook posted again: HTTP 400 (a replay, refused)" in lines
    assert lines[-1] == "the service's view: call ended, transferred to ['tel:+14155550123']"


async def test_the_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    for name in configured_variables():
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.delenv("OPENAI_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_WEBHOOK_SECRET"):
        Switchboard.from_env()

    monkeypatch.setenv("OPENAI_WEBHOOK_SECRET", "whsec_" + "B" * 44)
    monkeypatch.setenv("TRANSFER_TO", "sip:desk@acme.example")
    monkeypatch.setenv("REDIS_URL", redis_url)
    board = Switchboard.from_env()
    try:
        assert board.transfer_to == "sip:desk@acme.example"
        assert isinstance(board.verifier.replay_store, RedisReplayStore)  # shared by workers
        assert CANARY_KEY not in repr(board) and "B" * 10 not in repr(board)
    finally:
        await board.close()
