"""meshpilot's rate limit service: Envoy's `envoy.service.ratelimit.v3.RateLimitService`.

Envoy's `envoy.filters.http.ratelimit` sends the descriptors a request produced
(https://www.envoyproxy.io/docs/envoy/latest/api-v3/service/ratelimit/v3/rls.proto). Descriptors that
meshpilot generated carry a `meshpilot_rule` entry naming the RateLimitPolicy rule; its token bucket
(from the current snapshot) is keyed by domain and every entry, so each descriptor value counts
separately and every sidecar asking about the same value shares the bucket. Descriptors that name no
known rule are allowed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc

from pilot.model.ratelimit import RateLimitRule
from pilot.ratelimit.store import BucketStore

log = logging.getLogger(__name__)
RULE_KEY = "meshpilot_rule"
Code = rls_pb2.RateLimitResponse.Code
RuleLookup = Callable[[str], RateLimitRule | None]


def bucket_key(domain: str, descriptor: rls_pb2.RateLimitDescriptor) -> str:
    return domain + "|" + "|".join(f"{e.key}={e.value}" for e in descriptor.entries)


def rule_id_of(descriptor: rls_pb2.RateLimitDescriptor) -> str:
    return next((e.value for e in descriptor.entries if e.key == RULE_KEY), "")


class RateLimitService(rls_pb2_grpc.RateLimitServiceServicer):
    def __init__(self, store: BucketStore, lookup: RuleLookup) -> None:
        self.store = store
        self.lookup = lookup
        self.allowed = 0
        self.over_limit = 0
        self.errors = 0
        self._last_error_log = -1e9

    async def ShouldRateLimit(self, request: rls_pb2.RateLimitRequest,
                              context: grpc.aio.ServicerContext) -> rls_pb2.RateLimitResponse:
        try:
            return await self.decide(request)
        except Exception as exc:  # the store (Redis) is down: let Envoy's failure mode decide
            self.errors += 1
            if time.monotonic() - self._last_error_log > 10:
                self._last_error_log = time.monotonic()
                log.warning("rate limit store failed (%d errors so far): %s", self.errors, exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"rate limit store unavailable: {exc}")
            raise  # abort raises; this keeps type checkers sure the function never falls through

    async def decide(self, request: rls_pb2.RateLimitRequest) -> rls_pb2.RateLimitResponse:
        hits = request.hits_addend or 1
        response = rls_pb2.RateLimitResponse(overall_code=Code.OK)
        for descriptor in request.descriptors:
            status = response.statuses.add(code=Code.OK)
            rule = self.lookup(rule_id_of(descriptor))
            if rule is None:
                continue
            if not await self.store.take(bucket_key(request.domain, descriptor), rule.bucket, hits):
                status.code = Code.OVER_LIMIT
                response.overall_code = Code.OVER_LIMIT
        if response.overall_code == Code.OVER_LIMIT:
            self.over_limit += 1
        else:
            self.allowed += 1
        return response


async def start_server(service: RateLimitService, address: str) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=[("grpc.server.max_pending_requests", 100_000)])
    rls_pb2_grpc.add_RateLimitServiceServicer_to_server(service, server)
    port = server.add_insecure_port(address)
    await server.start()
    log.info("rate limit service listening on %s (port %d)", address, port)
    return server, port
