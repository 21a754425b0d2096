"""Benchmarks are not timed in tests, but they must keep running: a tiny size of each, in-process."""

from __future__ import annotations

import asyncio

from bench.push_fanout import run as push_fanout


def test_push_fanout_runs() -> None:
    result = asyncio.run(push_fanout(3, 2))
    assert result["proxies"] == 6 and result["bytes_per_proxy"] > 0
