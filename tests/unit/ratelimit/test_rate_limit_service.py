"""The rate limit service and its bucket stores: in-process with a fake clock, and Redis shared by
two service replicas (a real redis-server on a free loopback port, stopped by PID)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from envoy.service.ratelimit.v3 import rls_pb2

from pilot.model.ratelimit import RateLimitRule, TokenBucket
from pilot.ratelimit.service import RateLimitService
from pilot.ratelimit.store import MemoryStore, RedisStore
from pilot.testing.redis_server import redis_server

OK, OVER = rls_pb2.RateLimitResponse.OK, rls_pb2.RateLimitResponse.OVER_LIMIT
RULE = RateLimitRule("default", "pp", "all", TokenBucket(tokens=20, fill_seconds=60, max_tokens=20),
                     is_global=True)


def lookup(rule_id: str) -> RateLimitRule | None:
    return RULE if rule_id == RULE.rule_id else None


def request(*entries: tuple[str, str], hits: int = 0) -> rls_pb2.RateLimitRequest:
    req = rls_pb2.RateLimitRequest(domain="meshpilot", hits_addend=hits)
    d = req.descriptors.add()
    for k, v in entries:
        d.entries.add(key=k, value=v)
    return req


async def codes(svc: RateLimitService, req: rls_pb2.RateLimitRequest, n: int) -> list[int]:
    return [(await svc.decide(req)).overall_code for _ in range(n)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_allows_max_then_refills_continuously() -> None:
    clock = FakeClock()
    svc = RateLimitService(MemoryStore(clock), lookup)
    req = request(("meshpilot_rule", RULE.rule_id))
    assert await codes(svc, req, 25) == [OK] * 20 + [OVER] * 5
    clock.now += 3.0  # 20 per minute: one token every 3 s
    assert await codes(svc, req, 2) == [OK, OVER]
    clock.now += 3600
    assert (await codes(svc, req, 30)).count(OK) == 20


async def test_each_descriptor_value_has_its_own_bucket_and_unknown_rules_pass() -> None:
    svc = RateLimitService(MemoryStore(FakeClock()), lookup)
    for user in ("a", "b"):
        req = request(("meshpilot_rule", RULE.rule_id), ("header:x-user", user))
        assert (await codes(svc, req, 30)).count(OK) == 20
    unknown = request(("meshpilot_rule", "default/other/x"))
    assert await codes(svc, unknown, 50) == [OK] * 50


async def test_hits_addend_takes_several_tokens() -> None:
    svc = RateLimitService(MemoryStore(FakeClock()), lookup)
    req = request(("meshpilot_rule", RULE.rule_id), hits=15)
    assert await codes(svc, req, 2) == [OK, OVER]


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


async def test_two_replicas_share_one_redis_bucket(redis_url: str) -> None:
    replicas = [RateLimitService(RedisStore(redis_url), lookup) for _ in range(2)]
    req = request(("meshpilot_rule", RULE.rule_id), ("remote_address", "127.0.0.9"))
    try:
        seen = [(await replicas[i % 2].decide(req)).overall_code for i in range(40)]
        assert seen.count(OK) == 20 and seen[:20] == [OK] * 20, seen
        other = request(("meshpilot_rule", RULE.rule_id), ("remote_address", "127.0.0.10"))
        assert (await replicas[1].decide(other)).overall_code == OK
    finally:
        for r in replicas:
            await r.store.close()


class BrokenStore:
    async def take(self, key: str, bucket: TokenBucket, hits: int) -> bool:
        raise ConnectionError("redis is gone")

    async def close(self) -> None:
        pass


class AbortingContext:
    def __init__(self) -> None:
        self.aborted: tuple[object, str] | None = None

    async def abort(self, code: object, details: str) -> None:
        self.aborted = (code, details)
        raise RuntimeError("aborted")


async def test_store_failure_is_an_unavailable_error_so_envoy_fails_open() -> None:
    import grpc

    svc = RateLimitService(BrokenStore(), lookup)
    ctx = AbortingContext()
    with pytest.raises(RuntimeError, match="aborted"):
        await svc.ShouldRateLimit(request(("meshpilot_rule", RULE.rule_id)), ctx)  # type: ignore[arg-type]
    assert ctx.aborted is not None and ctx.aborted[0] == grpc.StatusCode.UNAVAILABLE
    assert "redis is gone" in ctx.aborted[1] and svc.errors == 1
