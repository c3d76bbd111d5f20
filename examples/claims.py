"""Insurance claims with today's models: a reasoning model, a photo of the damage, and an aside.

The caller shows a photo of a cracked phone and asks for a claim. The agent thinks a little
(``reasoning_effort="low"``), says so in a preamble, opens the claim with a tool and answers.
Meanwhile the application asks the model *on the side* how urgent the case is: an out-of-band
response (``Session.aside``) that never enters the conversation.

    python examples/claims.py                   # the whole flow, against the built-in simulator
    agentkit run examples/claims.py --simulate --model gpt-realtime-2 \\
        --image photo.png --say "My phone screen cracked, can you open a claim?"

A reasoning model on the GA protocol is needed for ``reasoning_effort`` and images: on Azure,
state the model family (``AZURE_OPENAI_MODEL=gpt-realtime-2`` or ``--model``).
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Literal

from agentkit import Agent, Endpoint, Session, tool
from agentkit.events import TranscriptDone
from agentkit.testing import Scenario, Simulator


@tool
def open_claim(device: str, damage: Literal["screen", "water", "battery", "other"]) -> dict:
    """Open an insurance claim for a damaged device.

    Args:
        device: the device, as the caller names it.
        damage: what kind of damage the photo or the caller shows.
    """
    return {"claim_id": "CL-2041", "device": device, "damage": damage, "status": "opened"}


agent = Agent(
    instructions=(
        "You handle insurance claims. Look at the caller's photo, open a claim with the right "
        "damage type, and give the claim id."
    ),
    tools=[open_claim],
    modality="text",
    reasoning_effort="low",
)

scenario = (
    Scenario()
    .on("claim")
    .say("Let me look at the photo.")
    .call("open_claim", device="phone", damage="screen")
    .say(lambda out: f"I opened claim {out['open_claim']['claim_id']} for the cracked screen.")
    .on("urgent")
    .say("normal")
)


def photo() -> bytes:
    """A tiny PNG standing in for the caller's photo (a real one comes from the app)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x20\x20\x20" * 2 for _ in range(2))
    idat = chunk(b"IDAT", zlib.compress(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


async def handle_call(session: Session) -> None:
    session.on(TranscriptDone, lambda event: print("assistant:", event.text))
    await session.send_image(photo(), text="Here is my phone.", respond=False)
    answer = await session.ask("My phone screen cracked, can you open a claim?")
    print("claim:", answer.tool_calls[0].output)
    triage = await session.aside(
        "How urgent is this claim: low, normal or urgent? Answer with one word.",
        input=["How urgent is a cracked phone screen?"],
    )
    print("urgency (aside):", triage.text)


async def main() -> None:
    async with Simulator(scenario) as sim:
        endpoint = Endpoint.custom(sim.ga_url(model="gpt-realtime-2"), credential=sim.api_key)
        async with Session(agent, endpoint) as session:
            await handle_call(session)


if __name__ == "__main__":
    asyncio.run(main())
