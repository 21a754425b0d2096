"""The hold queue: bounded, per-request deadlines, one release wakes every waiter."""

from __future__ import annotations

import asyncio

import pytest

from pilot.activator.hold import HoldQueue, HoldTimeout, QueueFull


async def test_release_wakes_every_waiter() -> None:
    q: HoldQueue[str] = HoldQueue(10)
    waiters = [asyncio.create_task(q.hold(5)) for _ in range(3)]
    await asyncio.sleep(0)
    assert len(q) == 3
    assert q.release("pod") == 3
    assert await asyncio.gather(*waiters) == ["pod"] * 3
    assert len(q) == 0


async def test_queue_bound_is_honoured_and_frees_up() -> None:
    q: HoldQueue[str] = HoldQueue(2)
    held = [asyncio.create_task(q.hold(5)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):
        await q.hold(5)
    q.release("x")
    await asyncio.gather(*held)
    third = asyncio.create_task(q.hold(5))  # room again once the held ones left
    await asyncio.sleep(0)
    assert len(q) == 1
    q.release("y")
    assert await third == "y"


async def test_each_request_has_its_own_deadline() -> None:
    q: HoldQueue[str] = HoldQueue(10)
    short = asyncio.create_task(q.hold(0.05))
    long = asyncio.create_task(q.hold(5))
    with pytest.raises(HoldTimeout):
        await short
    assert len(q) == 1  # the timed-out request left the queue, the other still waits
    q.release("pod")
    assert await long == "pod"


async def test_a_passed_deadline_fails_at_once_and_a_cancelled_waiter_leaves() -> None:
    q: HoldQueue[str] = HoldQueue(10)
    with pytest.raises(HoldTimeout):
        await q.hold(0)
    task = asyncio.create_task(q.hold(5))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(q) == 0
    assert q.release("nobody") == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HoldQueue(0)
