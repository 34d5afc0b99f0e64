"""The in-flight slots: a free slot is taken at once, waiters are served first come first served, and a
cancelled waiter neither loses a slot nor leaves one held."""

from __future__ import annotations

import asyncio

from ttsign.api.in_flight import InFlightSlots


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_free_slots_are_taken_at_once_and_then_callers_queue() -> None:
    slots = InFlightSlots(2)
    assert slots.take() and slots.take()
    assert not slots.take()
    assert (slots.busy, slots.waiting) == (2, 0)
    slots.release()
    assert (slots.busy, slots.waiting) == (1, 0)


async def test_waiters_get_slots_in_arrival_order_and_no_newcomer_overtakes() -> None:
    slots = InFlightSlots(1)
    assert slots.take()
    served: list[int] = []

    async def waiter(n: int) -> None:
        await slots.wait()
        served.append(n)

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await _settle()
    assert slots.waiting == 3
    slots.release()  # the slot passes to waiter 0; a newcomer finds the queue and must wait too
    assert not slots.take()
    await _settle()
    assert served == [0] and (slots.busy, slots.waiting) == (1, 2)
    slots.release()  # waiter 0 done: on to waiter 1
    await _settle()
    slots.release()  # waiter 1 done: on to waiter 2
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2]
    slots.release()
    assert (slots.busy, slots.waiting) == (0, 0)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    slots = InFlightSlots(1)
    assert slots.take()
    task = asyncio.create_task(slots.wait())
    await _settle()
    assert slots.waiting == 1 and slots.stalled_for(10**9) > 0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert (slots.busy, slots.waiting) == (1, 0) and slots.stalled_for(10**9) == 0
    slots.release()
    assert slots.busy == 0 and slots.take()


async def test_a_waiter_cancelled_as_its_slot_arrives_passes_the_slot_on() -> None:
    slots = InFlightSlots(1)
    assert slots.take()
    first = asyncio.create_task(slots.wait())
    second = asyncio.create_task(slots.wait())
    await _settle()
    slots.release()  # hands the slot to `first`, which is cancelled before it runs again
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)  # the slot went on to `second`: none lost
    assert (slots.busy, slots.waiting) == (1, 0)
    slots.release()
    assert slots.busy == 0


async def test_a_waiter_cancelled_after_a_release_dropped_it_does_not_fail() -> None:
    slots = InFlightSlots(1)
    assert slots.take()
    first = asyncio.create_task(slots.wait())
    await _settle()
    first.cancel()  # its future is cancelled now; the release below drops it from the queue before it runs
    slots.release()
    results = await asyncio.gather(first, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert (slots.busy, slots.waiting) == (0, 0)
