"""Cost of rate limiting in the control plane.

Run from the repository root:  python -m bench.ratelimit [--seconds 1]
- translation of one sidecar (productpage of the loopback Bookinfo mesh) without policies, with Istio's
  local rate-limit EnvoyFilter recipe, and with a RateLimitPolicy (median per proxy);
- rate limit service decisions per second (in-process call of the servicer, no gRPC) with the memory
  store and with Redis (a throwaway redis-server on a free loopback port), one at a time and 64 in flight.
Results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from envoy.service.ratelimit.v3 import rls_pb2

from pilot.model.proxy import NodeId
from pilot.model.ratelimit import RateLimitRule, TokenBucket
from pilot.model.snapshot import build_snapshot
from pilot.ratelimit.service import RateLimitService
from pilot.ratelimit.store import BucketStore, MemoryStore, RedisStore
from pilot.sources.memory import resources_from_yaml
from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.testing.processes import ProcessGroup
from pilot.testing.redis_server import redis_available, start_redis
from pilot.translate.generate import generate_with_findings

POLICIES = Path(__file__).resolve().parents[1] / "policies/ratelimit"
RULE = RateLimitRule("default", "bench", "r", TokenBucket(1_000_000, 1.0, 1_000_000), is_global=True)


def translation_ms(extra: str, seconds: float) -> float:
    mesh = LoopbackMesh.build(BOOKINFO, block=(127, 10, 0))
    snap = build_snapshot(resources_from_yaml(mesh.yaml()) + (resources_from_yaml(extra) if extra else []))
    view = snap.proxy_view(NodeId.parse(mesh.pod("productpage").node_id))
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        generate_with_findings(snap, view)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


async def decisions_per_second(store: BucketStore, seconds: float, in_flight: int) -> float:
    svc = RateLimitService(store, lambda rule_id: RULE)
    n, start = 0, time.perf_counter()

    async def one(i: int) -> None:
        req = rls_pb2.RateLimitRequest(domain="meshpilot")
        d = req.descriptors.add()
        d.entries.add(key="meshpilot_rule", value=RULE.rule_id)
        d.entries.add(key="header:x-user", value=f"user-{i % 100}")
        await svc.decide(req)

    while time.perf_counter() - start < seconds:
        await asyncio.gather(*(one(n + i) for i in range(in_flight)))
        n += in_flight
    rate = n / (time.perf_counter() - start)
    await store.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    for label, extra in (("no policy", ""),
                         ("Istio local rate-limit EnvoyFilter", (POLICIES / "local-ratelimit-envoyfilter.yaml")
                          .read_text()),
                         ("RateLimitPolicy (per header)", (POLICIES / "ratelimitpolicy-per-user.yaml").read_text())):
        print(f"translate productpage, {label:<36} {translation_ms(extra, args.seconds):6.2f} ms (median)")
    for in_flight in (1, 64):
        rate = asyncio.run(decisions_per_second(MemoryStore(), args.seconds, in_flight))
        print(f"rate limit decisions, memory store, {in_flight:>2} in flight  {rate:9.0f} /s")
    if not redis_available():
        print("redis-server not installed: Redis store skipped")
        return
    group = ProcessGroup()
    try:
        _proc, url = start_redis(group)
        for in_flight in (1, 64):
            rate = asyncio.run(decisions_per_second(RedisStore(url), args.seconds, in_flight))
            print(f"rate limit decisions, Redis store,  {in_flight:>2} in flight  {rate:9.0f} /s")
    finally:
        group.stop_all()


if __name__ == "__main__":
    main()
