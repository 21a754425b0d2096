"""Idle garbage collection: survivors frozen after work, cyclic garbage reclaimed once quiet."""

from __future__ import annotations

import asyncio
import gc
import weakref

from pilot.gc_idle import IdleCollector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector can free it


async def test_frozen_cycles_are_reclaimed_by_the_idle_collection() -> None:
    collector = IdleCollector(idle_s=0.05, max_interval_s=60)
    try:
        node = _Node()
        ref = weakref.ref(node)
        collector.activity()  # freezes `node` with everything else alive
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()  # a normal collection does not look at frozen objects
        assert ref() is not None
        await asyncio.sleep(0.2)  # quiet for idle_s: the full collection runs
        assert collector.collections == 1 and ref() is None
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0


async def test_continuous_churn_still_collects_after_max_interval() -> None:
    collector = IdleCollector(idle_s=10, max_interval_s=0.05)
    try:
        collector.activity()
        await asyncio.sleep(0.1)
        collector.activity()  # busy the whole time, but max_interval_s has passed
        assert collector.collections == 1
    finally:
        collector.stop()
