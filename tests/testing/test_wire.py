"""The simulator over real WebSockets: handshake, errors, barge-in, faults, expiry, cassettes."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from agentkit.testing import Cassette, Scenario, Simulator, silence, speech
from agentkit.testing.audio import to_base64
from tests.support import TIMEOUT
from tests.testing.helpers import WEATHER_TOOL, recv_event, recv_until, send, user_text

KEY = {"api-key": "test-key"}


@pytest.mark.parametrize(
    ("path", "headers", "dialect"),
    [
        ("/openai/v1/realtime?model=m", {}, "ga"),
        ("/openai/realtime?api-version=2025-04-01-preview&deployment=m", {}, "preview"),
        ("/v1/realtime?model=m", {}, "ga"),
        ("/v1/realtime?model=m", {"OpenAI-Beta": "realtime=v1"}, "preview"),
    ],
)
async def test_url_chooses_dialect(path: str, headers: dict[str, str], dialect: str) -> None:
    async with (
        Simulator() as sim,
        connect(sim.url + path, additional_headers={**KEY, **headers}) as ws,
    ):
        created = await recv_event(ws)
        conversation = await recv_event(ws)
        assert created["type"] == "session.created"
        assert created["session"]["id"].startswith("sess_") and created["session"]["expires_at"] > 0
        assert ("type" in created["session"]) is (dialect == "ga")
        assert conversation["type"] == "conversation.created"
        assert sim.connections[0].dialect == dialect


@pytest.mark.parametrize(
    ("suffix", "headers", "status"),
    [
        ("/openai/v1/realtime?model=m", {}, 401),
        ("/openai/v1/realtime?model=m", {"api-key": "wrong"}, 401),
        ("/openai/v1/realtime?model=m&api-version=2025-04-01-preview", KEY, 401),
        ("/nowhere", KEY, 404),
    ],
)
async def test_handshake_refusals(suffix: str, headers: dict[str, str], status: int) -> None:
    async with Simulator() as sim:
        with pytest.raises(InvalidStatus) as caught:
            await connect(sim.url + suffix, additional_headers=headers, open_timeout=TIMEOUT)
        assert caught.value.response.status_code == status


@pytest.mark.parametrize(
    ("suffix", "headers"),
    [
        ("/openai/v1/realtime?model=m&api-key=test-key", {}),
        ("/openai/v1/realtime?model=m", {"Authorization": "Bearer test-key"}),
        ("/openai/v1/realtime?model=m", {"Authorization": "Bearer entra-token"}),
    ],
)
async def test_credentials_accepted(suffix: str, headers: dict[str, str]) -> None:
    async with Simulator(accept_token=lambda token: token == "entra-token") as sim:
        async with connect(sim.url + suffix, additional_headers=headers) as ws:
            assert (await recv_event(ws))["type"] == "session.created"


async def test_forced_handshake_status_then_recovery() -> None:
    async with Simulator() as sim:
        sim.faults.refuse_handshake(429, headers={"Retry-After": "2"})
        with pytest.raises(InvalidStatus) as caught:
            await connect(sim.ga_url(), additional_headers=KEY)
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "2"
        async with connect(sim.ga_url(), additional_headers=KEY) as ws:
            assert (await recv_event(ws))["type"] == "session.created"


async def test_session_update_and_errors_carry_event_id() -> None:
    async with Simulator() as sim, connect(sim.ga_url(), additional_headers=KEY) as ws:
        await recv_until(ws, "conversation.created")
        await send(
            ws, "session.update", event_id="c1", session={"type": "realtime", "instructions": "Hi"}
        )
        updated = await recv_event(ws)
        assert updated["type"] == "session.updated" and updated["session"]["instructions"] == "Hi"
        assert updated["session"]["output_modalities"] == ["audio"]  # untouched fields stay
        await send(ws, "session.update", event_id="c2", session={"instructions": "x"})
        await send(ws, "session.update", event_id="c3", session={"type": "realtime", "voice": "x"})
        missing, unknown = await recv_event(ws), await recv_event(ws)
        assert (missing["error"]["code"], missing["error"]["event_id"]) == (
            "missing_required_parameter",
            "c2",
        )
        assert (unknown["error"]["code"], unknown["error"]["param"]) == (
            "unknown_parameter",
            "session.voice",
        )
        await ws.send("{nope")
        await send(ws, "no.such.event", event_id="c4")
        assert (await recv_event(ws))["error"]["code"] == "invalid_json"
        bad_type = await recv_event(ws)
        assert (bad_type["error"]["code"], bad_type["error"]["event_id"]) == ("invalid_value", "c4")
        assert [e["event_id"] for e in sim.received] == ["c1", "c2", "c3", "c4"]


async def test_active_response_rule_and_cancel() -> None:
    scenario = Scenario().on_any().say("word " * 60)
    async with (
        Simulator(scenario, stream_delay=0.001) as sim,
        connect(sim.ga_url(), additional_headers=KEY) as ws,
    ):
        await recv_until(ws, "conversation.created")
        await send(ws, "conversation.item.create", item=user_text("hi"))
        await send(ws, "response.create", event_id="r1")
        await recv_until(ws, "response.created")
        await send(ws, "response.create", event_id="r2")
        error = await recv_until(ws, "error")
        assert error[-1]["error"]["code"] == "conversation_already_has_active_response"
        assert error[-1]["error"]["event_id"] == "r2"
        await send(ws, "response.cancel")
        done = (await recv_until(ws, "response.done"))[-1]
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"
        await send(ws, "response.cancel", event_id="r3")
        assert (await recv_until(ws, "error"))[-1]["error"]["code"] == "response_cancel_not_active"


async def test_function_call_output_needs_a_known_call() -> None:
    async with Simulator() as sim, connect(sim.preview_url(), additional_headers=KEY) as ws:
        await recv_until(ws, "conversation.created")
        item = {"type": "function_call_output", "call_id": "call_x", "output": "{}"}
        await send(ws, "conversation.item.create", event_id="o1", item=item)
        error = await recv_event(ws)
        assert (error["error"]["code"], error["error"]["event_id"]) == (
            "invalid_tool_call_id",
            "o1",
        )
        await send(ws, "input_audio_buffer.commit", event_id="b1")
        assert (await recv_event(ws))["error"]["code"] == "input_audio_buffer_commit_empty"


async def test_barge_in_cancels_with_turn_detected() -> None:
    scenario = Scenario().on_audio().say("A long answer " * 20)
    async with (
        Simulator(scenario, stream_delay=0.002) as sim,
        connect(sim.ga_url(), additional_headers=KEY) as ws,
    ):
        await recv_until(ws, "conversation.created")
        await send(ws, "input_audio_buffer.append", audio=to_base64(speech(400) + silence(300)))
        events = await recv_until(ws, "response.output_audio.delta")
        assert [e["type"] for e in events][:3] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ]
        await send(ws, "input_audio_buffer.append", audio=to_base64(speech(200)))
        rest = await recv_until(ws, "response.done")
        assert rest[-1]["response"]["status_details"]["reason"] == "turn_detected"
        assert "input_audio_buffer.speech_started" in [e["type"] for e in rest]


async def test_function_call_round_trip_preview_names() -> None:
    scenario = (
        Scenario()
        .on("weather")
        .call("get_weather", city="Oslo")
        .say(lambda o: f"{o['get_weather']}")
    )
    async with Simulator(scenario) as sim, connect(sim.preview_url(), additional_headers=KEY) as ws:
        await recv_until(ws, "conversation.created")
        await send(ws, "session.update", session={"tools": [WEATHER_TOOL]})
        await send(ws, "conversation.item.create", item=user_text("weather?"))
        await send(ws, "response.create")
        events = await recv_until(ws, "response.done")
        deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
        assert len(deltas) > 1 and "".join(d["delta"] for d in deltas) == '{"city": "Oslo"}'
        call = events[-1]["response"]["output"][0]
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
        await send(ws, "conversation.item.create", item=output)
        await send(ws, "response.create")
        events = await recv_until(ws, "response.done")
        assert "response.audio_transcript.done" in [e["type"] for e in events]
        assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "sunny"


async def test_drop_after_events_aborts_then_reconnect_works() -> None:
    async with Simulator() as sim:
        sim.faults.drop_after(1)
        async with connect(sim.ga_url(), additional_headers=KEY) as ws:
            await recv_event(ws)
            with pytest.raises(ConnectionClosed) as caught:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert caught.value.rcvd is None  # no close frame: the TCP link was cut
        async with connect(sim.ga_url(), additional_headers=KEY) as ws:
            assert len(await recv_until(ws, "conversation.created")) == 2


async def test_drop_at_event_with_close_code() -> None:
    async with Simulator() as sim:
        sim.faults.drop_after_event("conversation.created", code=1011, reason="boom")
        async with connect(sim.ga_url(), additional_headers=KEY) as ws:
            await recv_until(ws, "conversation.created")
            with pytest.raises(ConnectionClosed) as caught:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1011
        await sim.connections[0].wait_closed(TIMEOUT)


async def test_unreachable_then_back() -> None:
    async with Simulator() as sim:
        await sim.unreachable_for(0.2)
        with pytest.raises(OSError):
            await connect(sim.ga_url(), additional_headers=KEY, open_timeout=TIMEOUT)
        for _ in range(int(TIMEOUT / 0.05)):
            try:
                ws = await connect(sim.ga_url(), additional_headers=KEY, open_timeout=TIMEOUT)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("simulator did not come back")
        async with ws:
            assert (await recv_event(ws))["type"] == "session.created"


async def test_session_expiry_closes_with_1001() -> None:
    async with Simulator(max_session_seconds=0.1, session_expired_error=True) as sim:
        async with connect(sim.ga_url(), additional_headers=KEY) as ws:
            error = await recv_until(ws, "error")
            assert error[-1]["error"]["code"] == "session_expired"
            with pytest.raises(ConnectionClosed) as caught:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
            assert caught.value.rcvd.reason == "Your session hit the maximum duration of 1 minutes."


async def test_cassette_replay_waits_for_client_events() -> None:
    cassette = Cassette.loads(
        "# a tiny tape\n"
        '{"type": "session.created", "session": {"id": "sess_1"}}\n'
        '{"expect": "response.create"}\n'
        '{"type": "response.created", "response": {"id": "resp_1"}}\n'
        '{"type": "response.done", "response": {"id": "resp_1", "status": "completed"}}\n'
    )
    async with (
        Simulator(cassette=cassette) as sim,
        connect(sim.ga_url(), additional_headers=KEY) as ws,
    ):
        assert (await recv_event(ws))["session"]["id"] == "sess_1"
        await send(ws, "session.update", session={})  # not awaited by the tape: no answer
        await send(ws, "response.create")
        events = await recv_until(ws, "response.done")
        assert [e["type"] for e in events] == ["response.created", "response.done"]
        replayed = sim.connections[0].cassette()
        assert '{"expect": "response.create"}' in replayed.dumps()


@pytest.mark.realtime_simulator(scenario=Scenario().on("hi").say("Hello!"), api_key="k")
async def test_plugin_fixture_with_marker(realtime_simulator: Simulator) -> None:
    async with connect(
        realtime_simulator.openai_url(), additional_headers={"Authorization": "Bearer k"}
    ) as ws:
        await recv_until(ws, "conversation.created")
        await send(
            ws, "session.update", session={"type": "realtime", "output_modalities": ["text"]}
        )
        await send(ws, "conversation.item.create", item=user_text("hi there"))
        await send(ws, "response.create")
        done = await recv_until(ws, "response.output_text.done")
        assert done[-1]["text"] == "Hello!"
    request = await realtime_simulator.wait_for("response.create", timeout=TIMEOUT)
    assert request == {"type": "response.create"}
    assert json.dumps(realtime_simulator.received[0]).startswith('{"type": "session.update"')
