"""Requests waiting for a revision to get a ready pod: a bounded queue, each with its own deadline.

Knative's throttler holds requests of a revision at zero capacity in a queue (10000 by default) and
answers 503 when it is full or when a request's wait reaches its deadline (knative-notes.md §3).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    pass


class HoldTimeout(Exception):
    pass


class HoldQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the hold queue needs room for at least one request")
        self.capacity = capacity
        self._waiters: list[asyncio.Future[T]] = []

    def __len__(self) -> int:
        return len(self._waiters)

    async def hold(self, timeout: float) -> T:
        """Wait until `release` hands out a value; QueueFull at once when full, HoldTimeout after
        `timeout` seconds."""
        if len(self._waiters) >= self.capacity:
            raise QueueFull(f"{len(self._waiters)} requests already held")
        if timeout <= 0:
            raise HoldTimeout("deadline already passed")
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise HoldTimeout(f"no ready pod within {timeout:.1f} s") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self, value: T) -> int:
        """Wake every waiting request with `value`; returns how many were woken."""
        woken, self._waiters = self._waiters, []
        n = 0
        for waiter in woken:
            if not waiter.done():
                waiter.set_result(value)
                n += 1
        return n
