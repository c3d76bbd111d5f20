"""The example app without a browser: plain WebSocket clients stand in for the page."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from agentkit import Endpoint
from agentkit.testing import Scenario, Simulator, silence, speech
from agentkit.testing.audio import chunk
from examples.webapp.app import create_app
from tests.browser.conftest import ANSWER, ORDER
from tests.browser.server import serve
from tests.support import TIMEOUT

Message = dict[str, Any]


@asynccontextmanager
async def browser_socket(service: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """What the page does first: open ``/ws`` and wait until the realtime session is ready."""
    async with connect(service.replace("http", "ws", 1) + "/ws", **options) as socket:
        assert (await receive(socket))["type"] == "ready"
        yield socket


async def receive(socket: ClientConnection) -> Message:
    message: Message = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
    return message


async def ask(socket: ClientConnection, pcm: bytes) -> list[Message]:
    """Stream ``pcm`` as the page's microphone would; collect messages until the spoken answer."""
    for piece in chunk(pcm):
        await socket.send(piece)
    messages: list[Message] = []
    while not messages or messages[-1]["type"] != "transcript_done":
        messages.append(await receive(socket))
    return messages


def of_type(messages: list[Message], kind: str) -> list[Message]:
    return [message for message in messages if message["type"] == kind]


QUESTION = speech(600) + silence(800)


@asynccontextmanager
async def mid_answer() -> AsyncIterator[tuple[Simulator, ClientConnection]]:
    """A browser socket whose question is being answered slowly: the first audio has arrived."""
    scenario = Scenario().on_audio().say("A long answer, " * 20)
    async with Simulator(scenario, stream_delay=0.05) as simulator:
        endpoint = Endpoint.custom(simulator.ga_url(), credential=simulator.api_key)
        async with serve(create_app(endpoint)) as url, browser_socket(url) as socket:
            for piece in chunk(QUESTION):
                await socket.send(piece)
            while (await receive(socket))["type"] != "audio":
                pass
            yield simulator, socket


async def test_the_page_and_its_scripts_are_served(service: str) -> None:
    def get(path: str) -> str:
        with urllib.request.urlopen(service + path, timeout=TIMEOUT) as response:
            body: bytes = response.read()
            return body.decode()

    page = await asyncio.to_thread(get, "/")
    assert '<script type="module" src="/static/app.js"></script>' in page
    assert "new WebSocket" in await asyncio.to_thread(get, "/static/app.js")
    assert "registerProcessor" in await asyncio.to_thread(get, "/static/mic-worklet.js")
    assert await asyncio.to_thread(get, "/healthz") == "ok"
    assert "<svg" in await asyncio.to_thread(get, "/favicon.ico")


async def test_speech_in_tool_call_and_spoken_answer_out(
    simulator: Simulator, service: str
) -> None:
    async with browser_socket(service) as socket:
        messages = await ask(socket, QUESTION)

    [call] = of_type(messages, "tool_call")
    [result] = of_type(messages, "tool_result")
    assert (call["name"], json.loads(call["arguments"])) == ("check_order", {"order_id": "A1001"})
    assert result["call_id"] == call["call_id"] and not result["is_error"]
    assert json.loads(result["output"]) == ORDER
    assert "".join(m["delta"] for m in of_type(messages, "transcript_delta")) == ANSWER
    assert messages[-1]["text"] == ANSWER
    audio = of_type(messages, "audio")
    spoken = simulator.connections[0].sent.of_type("response.output_audio.delta")
    assert [m["audio"] for m in audio] == [event["delta"] for event in spoken]
    assert messages.index(result) < messages.index(audio[0])


async def test_browsers_at_once_each_get_their_own_realtime_session(
    simulator: Simulator, service: str
) -> None:
    async def one_browser() -> list[Message]:
        async with browser_socket(service) as socket:
            return await ask(socket, QUESTION)

    browsers = await asyncio.gather(*(one_browser() for _ in range(3)))

    assert len(simulator.connections) == 3
    calls = {of_type(messages, "tool_call")[0]["call_id"] for messages in browsers}
    outputs = {
        connection.index: [
            event["item"]["call_id"]
            for event in connection.received.of_type("conversation.item.create")
            if event["item"]["type"] == "function_call_output"
        ]
        for connection in simulator.connections
    }
    # Each realtime connection answered exactly its own call, and each browser saw one of them.
    assert sorted(call for ids in outputs.values() for call in ids) == sorted(calls)
    assert all(len(ids) == 1 for ids in outputs.values())
    for messages in browsers:
        assert of_type(messages, "transcript_done")[-1]["text"] == ANSWER


async def test_browser_leaving_closes_its_realtime_session(
    simulator: Simulator, service: str
) -> None:
    async with browser_socket(service):
        record = await simulator.wait_for_connection(timeout=TIMEOUT)
        assert not record.closed
    await record.wait_closed(TIMEOUT)
    assert record.close_code == 1000


async def test_browser_leaving_mid_answer_closes_its_realtime_session() -> None:
    async with mid_answer() as (simulator, _):
        pass
    await simulator.connections[0].wait_closed(TIMEOUT)
    assert simulator.connections[0].close_code == 1000


async def test_realtime_side_ending_closes_the_browser_socket(
    simulator: Simulator, service: str
) -> None:
    async with browser_socket(service) as socket:
        await simulator.wait_for_connection(timeout=TIMEOUT)
        await simulator.close_connections(1000, "that's all")  # not worth a reconnect
        closed = await receive(socket)
        assert closed == {"type": "closed", "reason": "that's all"}
        await asyncio.wait_for(socket.wait_closed(), TIMEOUT)
    assert socket.close_code == 1000


async def test_a_worker_shutting_down_closes_both_sides(simulator: Simulator) -> None:
    endpoint = Endpoint.custom(simulator.ga_url(), credential=simulator.api_key)
    async with AsyncExitStack() as browser:
        async with serve(create_app(endpoint)) as url:
            socket = await browser.enter_async_context(browser_socket(url))
            record = await simulator.wait_for_connection(timeout=TIMEOUT)
        # uvicorn has shut down (a deploy, a scale-in): the page was told to come back later...
        await asyncio.wait_for(socket.wait_closed(), TIMEOUT)
        assert socket.close_code == 1012  # service restart
    # ...and the realtime session did not outlive its browser.
    await record.wait_closed(TIMEOUT)
    assert record.close_code == 1000


async def test_a_dropped_realtime_socket_is_replaced_and_the_browser_stays(
    simulator: Simulator, service: str
) -> None:
    async with browser_socket(service) as socket:
        await simulator.wait_for_connection(timeout=TIMEOUT)
        await simulator.close_connections(1011, "server error")  # retryable: reconnects
        assert (await receive(socket))["type"] == "reconnecting"
        assert (await receive(socket))["type"] == "reconnected"
        messages = await ask(socket, QUESTION)
    assert messages[-1]["text"] == ANSWER
    assert len(simulator.connections) == 2


async def test_speech_over_the_answer_tells_the_page_to_stop_playback() -> None:
    async with mid_answer() as (simulator, socket):
        for piece in chunk(speech(300)):  # the user talks over the assistant
            await socket.send(piece)
        seen = [(await receive(socket))["type"]]
        while seen[-1] != "response_done":
            seen.append((await receive(socket))["type"])
    assert "speech_started" in seen and "interrupted" in seen
    assert seen.index("speech_started") < seen.index("response_done")
    cancelled = simulator.connections[0].sent.of_type("response.done")[-1]
    assert cancelled["response"]["status"] == "cancelled"


async def test_the_interrupt_button_cuts_the_assistant_off() -> None:
    async with mid_answer() as (simulator, socket):
        await socket.send(json.dumps({"type": "interrupt"}))
        while (await receive(socket))["type"] != "interrupted":
            pass
        await simulator.wait_for("response.cancel", timeout=TIMEOUT)


async def test_other_sites_cannot_open_the_socket(simulator: Simulator) -> None:
    endpoint = Endpoint.custom(simulator.ga_url(), credential=simulator.api_key)
    app = create_app(endpoint, allowed_origins=["https://shop.example"])
    async with serve(app) as url:
        with pytest.raises(InvalidStatus) as refused:
            async with browser_socket(url, origin=Origin("https://evil.example")):
                pass
        assert refused.value.response.status_code == 403
        async with browser_socket(url, origin=Origin("https://shop.example")):
            pass
        async with browser_socket(url, origin=Origin(url)):  # its own page
            pass
    assert len(simulator.connections) == 2


async def test_a_refused_realtime_session_is_reported_to_the_page(
    simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = Endpoint.custom(simulator.ga_url(), credential="not-the-key")
    async with serve(create_app(endpoint)) as url:
        async with connect(url.replace("http", "ws", 1) + "/ws") as socket:
            error = await receive(socket)
            await asyncio.wait_for(socket.wait_closed(), TIMEOUT)
    assert socket.close_code == 1011
    assert error == {
        "type": "error",
        "message": "The voice service refused the session (HTTP 401): "
        "invalid or missing credentials",
    }
    assert "not-the-key" not in caplog.text


async def test_without_credentials_it_runs_on_an_in_process_simulator(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("AGENTKIT_REALTIME_URL", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING, logger="examples.webapp"):
        async with serve(create_app()) as url, browser_socket(url) as socket:
            messages = await ask(socket, QUESTION)
    assert "using an in-process simulator" in caplog.text
    [result] = of_type(messages, "tool_result")
    assert json.loads(result["output"]) == ORDER
    assert messages[-1]["text"] == ANSWER
