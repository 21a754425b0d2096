"""Token buckets shared by every sidecar asking meshpilot's rate limit service.

`MemoryStore` keeps them in this process (one control plane). `RedisStore` keeps them in Redis so
several control-plane replicas count together; one Lua script reads, refills and takes atomically, on
Redis' own clock, so replicas with skewed clocks still agree. Buckets refill continuously
(tokens / fill interval per second) up to max_tokens, like Envoy's own local token bucket, so a limit
does not reset at a window edge.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from pilot.model.ratelimit import TokenBucket


class BucketStore(Protocol):
    async def take(self, key: str, bucket: TokenBucket, hits: int) -> bool:
        """Take `hits` tokens from the bucket named `key`; False (and take none) if there are too few."""
        ...

    async def close(self) -> None: ...


def refill(tokens: float, last: float, now: float, bucket: TokenBucket) -> float:
    return min(float(bucket.max_tokens), tokens + max(0.0, now - last) * bucket.rate_per_second)


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str, bucket: TokenBucket, hits: int) -> bool:
        now = self._clock()
        tokens, last = self._buckets.pop(key, (float(bucket.max_tokens), now))
        tokens = refill(tokens, last, now, bucket)
        allowed = tokens >= hits
        self._buckets[key] = (tokens - hits if allowed else tokens, now)
        if len(self._buckets) > self._max_keys:  # forget the least recently used bucket
            self._buckets.popitem(last=False)
        return allowed

    async def close(self) -> None:
        self._buckets.clear()


# KEYS[1] bucket; ARGV: max_tokens, tokens per second, hits, ttl ms. Returns 1 when allowed.
TAKE_SCRIPT = """
local max = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local hits = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or max
local last = tonumber(state[2]) or now
if now > last then tokens = math.min(max, tokens + (now - last) * rate) end
local allowed = 0
if tokens >= hits then
  tokens = tokens - hits
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return allowed
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = "meshpilot:rl:") -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(url)
        self._script = self._client.register_script(TAKE_SCRIPT)
        self._prefix = prefix

    async def take(self, key: str, bucket: TokenBucket, hits: int) -> bool:
        # A bucket left alone refills completely in max/rate seconds; keep it no longer than that.
        full_after = bucket.max_tokens / bucket.rate_per_second if bucket.rate_per_second else 3600.0
        ttl_ms = int(full_after * 1000) + 1000
        result = await self._script(keys=[self._prefix + key],
                                    args=[bucket.max_tokens, repr(bucket.rate_per_second), hits, ttl_ms])
        return int(result) == 1

    async def close(self) -> None:
        await self._client.aclose()
