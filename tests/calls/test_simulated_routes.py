"""The simulator's call routes refuse what the service refuses, on a real HTTP port."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from websockets.asyncio.client import connect

from agentkit import Endpoint, Session
from agentkit.calls import CallControl
from agentkit.events import ResponseFinished
from agentkit.testing._http import HttpRequest, HttpResponse, HttpServer
from tests.calls.support import CANARY_KEY, OFFER, order_agent, simulator
from tests.support import TIMEOUT, until_event


def post(url: str, body: object, key: str | None = CANARY_KEY) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"{}")


async def test_routes_check_credentials_paths_and_call_states() -> None:
    async with simulator() as sim:
        base = sim.calls.api_base
        session = {"type": "realtime"}
        cases = [
            (f"{base}/client_secrets", {"session": session}, None, 401),
            (f"{base}/client_secrets", {"session": session}, "sk-other", 401),
            (f"{base}/client_secrets", {"session": {"type": "transcription"}}, CANARY_KEY, 400),
            (f"{base}/client_secrets", {"expires_after": {"seconds": 5}, "session": session},
             CANARY_KEY, 400),
            (f"{base}/nowhere", {}, CANARY_KEY, 404),
            (f"{base}/calls/rtc_missing/accept", session, CANARY_KEY, 404),
        ]  # fmt: skip
        for url, body, key, status in cases:
            got, reply = await asyncio.to_thread(post, url, body, key)
            assert got == status, (url, reply)
            assert "error" in reply
        assert all(exchange.status >= 400 for exchange in sim.calls.exchanges)


async def test_a_call_is_accepted_once() -> None:
    async with simulator() as sim:
        received: list[bytes] = []

        async def webhook(request: HttpRequest) -> HttpResponse:
            received.append(request.body)
            return HttpResponse(204)

        receiver = await HttpServer(webhook).start()
        try:
            delivery = await sim.calls.incoming_call(f"{receiver.url}/hook")
        finally:
            await receiver.stop()
        assert delivery.status == 204 and received == [delivery.body]
        accept = f"{sim.calls.api_base}/calls/{delivery.call_id}/accept"
        first = await asyncio.to_thread(post, accept, {"type": "realtime"})
        second = await asyncio.to_thread(post, accept, {"type": "realtime"})
        assert (first[0], second[0]) == (200, 400)


async def test_the_http_server_survives_malformed_requests() -> None:
    async def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, request.path.encode())

    server = await HttpServer(answer).start()
    try:
        for head in (b"NONSENSE\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"a" * 100_000 + b"\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(head)
            await writer.drain()
            reply = await reader.read()
            writer.close()
            assert reply == b"" or reply.startswith(b"HTTP/1.1 400")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /still-here HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert (await reader.read()).endswith(b"/still-here")
        writer.close()
    finally:
        await server.stop()


def send(
    url: str, method: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers.items())


async def test_a_page_on_another_origin_may_post_its_offer() -> None:
    async with simulator() as sim:
        url = f"{sim.calls.api_base}/calls"
        page = "http://127.0.0.1:8000"
        asked = {
            "Origin": page,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        status, headers = await asyncio.to_thread(send, url, "OPTIONS", asked)
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == page
        assert "Authorization" in headers["Access-Control-Allow-Headers"]
        posted = {"Origin": page, "Authorization": f"Bearer {CANARY_KEY}",
                  "Content-Type": "application/sdp"}  # fmt: skip
        status, headers = await asyncio.to_thread(send, url, "POST", posted, OFFER.encode())
        assert status == 201 and headers["Access-Control-Allow-Origin"] == page
        assert headers["Access-Control-Expose-Headers"] == "Location"  # the page learns the call
        assert headers["Location"].startswith("/v1/realtime/calls/rtc_")


async def test_every_sideband_of_a_call_gets_its_events() -> None:
    async with simulator() as sim:
        server = Endpoint.custom(sim.openai_url(), credential=CANARY_KEY)
        answer = await CallControl(server, api_base_url=sim.calls.api_base).create_call(OFFER)
        watcher_url = f"{sim.url}/v1/realtime?call_id={answer.call_id}"
        headers = {"Authorization": f"Bearer {CANARY_KEY}"}
        async with (
            Session.attach(answer.call_id, order_agent(), server) as agent_side,
            connect(watcher_url, additional_headers=headers) as watcher,  # reads, says nothing
        ):
            await sim.wait_for_connection(2, timeout=TIMEOUT)
            await sim.calls.caller_says(answer.call_id, "where is my order?")
            await until_event(agent_side, ResponseFinished)
            seen: list[str] = []
            while "response.done" not in seen or seen.count("response.done") < 2:
                event = json.loads(await asyncio.wait_for(watcher.recv(), TIMEOUT))
                seen.append(event["type"])
        for wanted in ("input_audio_buffer.committed", "response.function_call_arguments.done"):
            assert wanted in seen and wanted in sim.connections[0].sent.types()
        # the tool's output, posted by the agent's sideband, reached the watcher too
        assert (
            "conversation.item.added" in seen[seen.index("response.function_call_arguments.done") :]
        )
