"""Slots, the tool calls' semaphore: a free slot is taken at once, waiters are served in
arrival order, and no slot is lost or duplicated whatever cancellation does."""

from __future__ import annotations

import asyncio

import pytest

from agentkit._tasks import Slots


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_free_slots_are_taken_at_once_and_then_run_out() -> None:
    slots = Slots(2)
    assert slots.take_now() and slots.take_now()
    assert not slots.take_now()
    slots.give()
    assert slots.take_now()


async def test_waiters_are_served_in_arrival_order_and_newcomers_queue_behind() -> None:
    slots, order = Slots(1), []
    assert slots.take_now()

    async def holder(name: str) -> None:
        await slots.take()
        order.append(name)
        await asyncio.sleep(0)
        slots.give()

    first = asyncio.create_task(holder("first"))
    second = asyncio.create_task(holder("second"))
    await _settle()
    slots.give()  # handed to "first", not returned to the pool
    assert not slots.take_now()  # a newcomer does not overtake "second"
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert slots.take_now() and not slots.take_now()  # the one slot, back and single


async def test_a_waiter_cancelled_before_its_turn_leaves_the_queue() -> None:
    slots = Slots(1)
    assert slots.take_now()
    waiting = asyncio.create_task(slots.take())
    await _settle()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    slots.give()
    assert slots.take_now() and not slots.take_now()


async def test_a_waiter_cancelled_after_the_hand_off_passes_its_slot_on() -> None:
    slots = Slots(1)
    assert slots.take_now()
    cancelled = asyncio.create_task(slots.take())
    behind = asyncio.create_task(slots.take())
    await _settle()
    slots.give()  # "cancelled" is handed the slot...
    cancelled.cancel()  # ...and cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(behind, 1)  # the slot went on to the next waiter
    assert not slots.take_now()
    slots.give()
    assert slots.take_now()
