"""Images: loading from bytes, files, data URIs and a local HTTP server; and over real sockets,
the ``input_image`` message the OpenAI SDK types describe, and a clear refusal for a model that
takes no images (here, or from the simulator when the model was not stated)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from openai.types.realtime.conversation_item_create_event import ConversationItemCreateEvent
from openai.types.realtime.realtime_conversation_item_user_message import (
    RealtimeConversationItemUserMessage,
)

from agentkit import (
    Agent,
    Endpoint,
    Image,
    ImageError,
    ImageTooLargeError,
    Session,
    UnsupportedOptionError,
)
from agentkit.events import ErrorOccurred, Reconnected
from agentkit.images import DEFAULT_MAX_IMAGE_BYTES, load_image, sniff_image_type
from agentkit.protocol.client_events import user_image
from agentkit.testing import Scenario, Simulator
from tests.image_files import GIF, JPEG, WEBP, http_server, png
from tests.support import TIMEOUT, until_event

PNG = png(2, 2)
TEXT_AGENT = Agent(modality="text", turn_detection=None)


# -- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp"),
     (b"hello", None), (b"", None)],
)  # fmt: skip
def test_the_type_is_told_from_the_bytes(data: bytes, mime: str | None) -> None:
    assert sniff_image_type(data) == mime


def test_png_and_jpeg_are_taken() -> None:
    image = Image.from_bytes(PNG, detail="low")
    assert (image.mime_type, image.detail) == ("image/png", "low")
    assert image.data_uri() == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert Image.from_bytes(JPEG).mime_type == "image/jpeg"
    assert repr(image) == f"Image(image/png, {len(PNG)} bytes, source='image')"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GIF, "image is not PNG or JPEG, which the Realtime API takes: it is image/gif"),
        (WEBP, "it is image/webp"),
        (b"%PDF-1.7", "its bytes are not a known image format"),
        (b"", "image is empty"),
    ],
)
def test_other_bytes_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        Image.from_bytes(data)


def test_a_bad_detail_is_refused() -> None:
    with pytest.raises(ImageError, match="detail must be 'auto', 'low' or 'high'"):
        Image.from_bytes(PNG, detail="ultra")  # type: ignore[arg-type]


def test_the_size_limit() -> None:
    assert DEFAULT_MAX_IMAGE_BYTES == 5 * 1024 * 1024
    with pytest.raises(ImageTooLargeError) as raised:
        Image.from_bytes(PNG, max_bytes=len(PNG) - 1)
    assert (raised.value.size, raised.value.limit) == (len(PNG), len(PNG) - 1)
    assert "max_bytes" in str(raised.value)
    big = PNG + bytes(DEFAULT_MAX_IMAGE_BYTES)
    with pytest.raises(ImageTooLargeError):
        Image.from_bytes(big)
    assert len(Image.from_bytes(big, max_bytes=len(big)).data) == len(big)


def test_files(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    image = Image.from_path(path)
    assert image.data == PNG and image.source == str(path)
    with pytest.raises(ImageTooLargeError, match="photo.png has"):
        Image.from_path(path, max_bytes=10)
    with pytest.raises(ImageError, match="cannot read .*missing.png"):
        Image.from_path(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageError, match="notes.txt is not PNG or JPEG"):
        Image.from_path(tmp_path / "notes.txt")


def test_data_uris() -> None:
    image = Image.from_data_uri(Image.from_bytes(JPEG).data_uri())
    assert image.data == JPEG and image.mime_type == "image/jpeg"
    with pytest.raises(ImageError, match="data:image/png;base64"):
        Image.from_data_uri("data:image/png,raw")
    with pytest.raises(ImageError, match="base64 is invalid"):
        Image.from_data_uri("data:image/png;base64,!!!")
    with pytest.raises(ImageTooLargeError):
        Image.from_data_uri(Image.from_bytes(PNG).data_uri(), max_bytes=8)


async def test_urls_are_fetched_from_a_local_server() -> None:
    big = PNG + bytes(5000)
    files = {"/a.png": PNG, "/big.png": big, "/stream.png": big}
    with http_server(files, chunked=frozenset({"/stream.png"})) as base:
        image = await Image.from_url(f"{base}/a.png", detail="high")
        assert (image.data, image.detail, image.source) == (PNG, "high", f"{base}/a.png")
        with pytest.raises(ImageError, match="HTTP 404"):
            await Image.from_url(f"{base}/gone.png")
        with pytest.raises(ImageTooLargeError) as announced:  # by its Content-Length
            await Image.from_url(f"{base}/big.png", max_bytes=1000)
        assert announced.value.size == len(big)
        with pytest.raises(ImageTooLargeError, match="more than 1,000 bytes"):  # cut off
            await Image.from_url(f"{base}/stream.png", max_bytes=1000)
        with pytest.raises(ImageError, match=r"sig=\*\*\*") as refused:
            await Image.from_url(f"{base}/gone.png?sig=secret-signature")
        assert "secret-signature" not in str(refused.value)


async def test_other_schemes_and_sources() -> None:
    with pytest.raises(ImageError, match="must be http"):
        await Image.from_url("ftp://127.0.0.1/a.png")
    assert (await load_image(PNG)).data == PNG
    assert (await load_image(Image.from_bytes(PNG), detail="low")).detail == "low"
    assert (await load_image(Image.from_bytes(PNG).data_uri())).data == PNG
    with pytest.raises(TypeError, match="not int"):
        await load_image(42)  # type: ignore[arg-type]


def test_the_builder_makes_the_sdk_s_user_message() -> None:
    event = user_image("data:image/png;base64,AAAA", detail="auto", text="What is this?")
    wire = event.model_dump(exclude_none=True)
    ConversationItemCreateEvent.model_validate(wire)
    message = RealtimeConversationItemUserMessage.model_validate(wire["item"])
    assert [part.type for part in message.content] == ["input_text", "input_image"]
    assert message.content[1].image_url == "data:image/png;base64,AAAA"
    assert message.content[1].detail == "auto"
    assert "detail" not in user_image("data:image/png;base64,AAAA").item["content"][0]


# -- over sockets ----------------------------------------------------------------------------


async def test_an_image_reaches_the_service_in_the_sdk_shape(tmp_path: Path) -> None:
    scenario = Scenario().on("what is this").say("A red square.")
    path = tmp_path / "square.png"
    path.write_bytes(PNG)
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-realtime"), sim.api_key)
        async with Session(TEXT_AGENT, endpoint) as session:
            await session.send_image(path, text="What is this?", detail="low", respond=False)
            answer = await session.ask("What is this, then?", timeout=TIMEOUT)
        assert answer.text == "A red square."
        (sent,) = [e for e in sim.received if _is_image_item(e)]
        ConversationItemCreateEvent.model_validate(sent)
        message = RealtimeConversationItemUserMessage.model_validate(sent["item"])
        text, image = message.content
        assert (text.type, text.text) == ("input_text", "What is this?")
        assert (image.type, image.detail) == ("input_image", "low")
        assert image.image_url == "data:image/png;base64," + base64.b64encode(PNG).decode()
        stored = sim.connections[0].received
        assert any(_is_image_item(e) for e in stored)


async def test_an_image_from_a_url_and_a_response() -> None:
    scenario = Scenario().on_any().say("I see it.")
    with http_server({"/cat.jpg": JPEG}) as base:
        async with Simulator(scenario) as sim:
            endpoint = Endpoint.custom(sim.openai_url("gpt-realtime-2"), sim.api_key)
            async with Session(TEXT_AGENT, endpoint) as session:
                await session.send_image(f"{base}/cat.jpg")
                await sim.wait_for("response.create", timeout=TIMEOUT)
    (sent,) = [e for e in sim.received if _is_image_item(e)]
    assert sent["item"]["content"] == [
        {"type": "input_image", "image_url": Image.from_bytes(JPEG).data_uri()}
    ]


async def test_a_model_without_image_input_is_refused_before_sending() -> None:
    async with Simulator() as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-4o-realtime-preview"), sim.api_key)
        async with Session(TEXT_AGENT, endpoint) as session:
            with pytest.raises(UnsupportedOptionError, match="does not take images"):
                await session.send_image(PNG)
        assert not [e for e in sim.received if e["type"] == "conversation.item.create"]


async def test_an_unstated_azure_deployment_gets_the_service_s_error() -> None:
    async with Simulator(deployments={"prod-voice": "gpt-4o-realtime-preview"}) as sim:
        base = sim.url.replace("ws://", "http://")
        stated = Endpoint.azure(base, "prod-voice", sim.api_key, model="gpt-4o-realtime-preview")
        async with Session(TEXT_AGENT, stated) as session:
            with pytest.raises(UnsupportedOptionError):
                await session.send_image(PNG, respond=False)
        unstated = Endpoint.azure(base, "prod-voice", sim.api_key)
        async with Session(TEXT_AGENT, unstated) as session:
            await session.send_image(PNG, respond=False)
            *_, error = await until_event(session, ErrorOccurred)
    assert isinstance(error, ErrorOccurred)
    assert error.code == "invalid_value"
    assert "does not support image input" in error.message
    assert error.caused_by == "conversation.item.create"


async def test_a_deployment_the_simulator_does_not_know_takes_images() -> None:
    async with Simulator(Scenario().on_any().say("Seen.")) as sim:
        endpoint = Endpoint.custom(sim.ga_url("gpt-4o-realtime-preview"), sim.api_key)
        async with Session(TEXT_AGENT, endpoint) as session:
            assert session.model_profile is None  # an Azure-shaped URL names a deployment
            await session.send_image(PNG, respond=False)
            answer = await session.ask("And?", timeout=TIMEOUT)
    assert answer.text == "Seen."


def _is_image_item(event: dict[str, object]) -> bool:
    item = event.get("item")
    if event.get("type") != "conversation.item.create" or not isinstance(item, dict):
        return False
    return any(part.get("type") == "input_image" for part in item.get("content", []))


async def test_after_a_reconnect_the_words_come_back_and_the_image_does_not() -> None:
    async with Simulator() as sim:
        endpoint = Endpoint.custom(sim.openai_url("gpt-realtime"), sim.api_key)
        async with Session(TEXT_AGENT, endpoint) as session:
            await session.send_image(PNG, text="Look at this.", respond=False)
            await session.ask("Seen it?", timeout=TIMEOUT)  # the image is in the history now
            await sim.close_connections(1011, "dropped")
            await session.wait_for(Reconnected, timeout=TIMEOUT)
    replayed = [
        e["item"]["content"]
        for e in sim.connections[1].received
        if e["type"] == "conversation.item.create" and e["item"]["role"] == "user"
    ]
    assert replayed == [
        [{"type": "input_text", "text": "Look at this."}],
        [{"type": "input_text", "text": "Seen it?"}],
    ]
