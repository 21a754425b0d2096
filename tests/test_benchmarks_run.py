"""Benchmarks are not timed in tests, but they must keep running: a tiny size of each, in-process."""

from __future__ import annotations

import asyncio
import json

from bench.push_fanout import run as push_fanout


def test_push_fanout_runs() -> None:
    result = asyncio.run(push_fanout(3, 2))
    assert result["proxies"] == 6 and result["bytes_per_proxy"] > 0


def test_ads_scale_runs_and_changes_reach_only_the_expected_proxies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.ads_scale import parse_args, run

    a = parse_args(["--services", "4", "--pods-per-service", "2", "--namespaces", "2", "--proxies", "4",
                    "--client-procs", "1", "--settle", "0.2", "--quiet", "0.7", "--change-timeout", "20",
                    "--server-log", str(tmp_path / "server.log")])
    result = run(a)
    assert result["synced"] == 4 and result["failed_streams"] == 0
    for change in ("endpoint_change", "route_change"):
        report = result[change]
        assert report["reached_expected"] == report["expected"] == 2 and report["reached_unexpected"] == 0
    assert result["endpoint_change"]["responses_by_type"] == {"eds": 2}


def test_fuzz_bench_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.fuzz import main

    out = tmp_path / "summary.json"
    assert main(["--examples", "40", "--envoy-sample", "5", "--stride", "1", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["inputs"] >= 40 and summary["crashes"] == 0 and summary["envoy_validated"] >= 1
