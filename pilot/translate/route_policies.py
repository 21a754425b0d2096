"""VirtualService HTTPRoute policies -> Envoy: retries (RetryPolicy), fault injection and CORS (per-route
configs of the HCM's fault and cors filters).

Behaviour follows istiod (pilot/pkg/networking/core/route/route.go and route/retry/retry.go):
https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry
https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPFaultInjection
https://istio.io/latest/docs/reference/config/networking/virtual-service/#CorsPolicy
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.common.fault.v3 import fault_pb2 as common_fault
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.retry.host.previous_hosts.v3 import previous_hosts_pb2
from envoy.extensions.retry.priority.previous_priorities.v3 import previous_priorities_config_pb2
from envoy.type.v3 import percent_pb2

from pilot.model.durations import parse_duration
from pilot.translate.pb import duration, pack
from pilot.translate.route_match import string_matcher

FAULT_FILTER = "envoy.filters.http.fault"
CORS_FILTER = "envoy.filters.http.cors"
# Istio's mesh-wide default retry policy (meshConfig.defaultHttpRetryPolicy unset): 2 retries on these
# conditions, and 503 counts as a retriable status code.
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
DEFAULT_RETRIES = 2
DEFAULT_RETRIABLE_CODES = (503,)
_VALID_HTTP_CODES = {int(s) for s in HTTPStatus}

# gRPC status names Istio accepts in fault.abort.grpcStatus, by code (grpc/codes).
GRPC_CODES = {name: i for i, name in enumerate((
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"))}


def million(percent: float) -> percent_pb2.FractionalPercent:
    """Istio's `Percent{value}` (a double) as parts per million."""
    return percent_pb2.FractionalPercent(numerator=int(percent * 10000),
                                         denominator=percent_pb2.FractionalPercent.MILLION)


def hundred(percent: int) -> percent_pb2.FractionalPercent:
    """The deprecated integer percent fields."""
    return percent_pb2.FractionalPercent(numerator=int(percent), denominator=percent_pb2.FractionalPercent.HUNDRED)


# ---- retries ------------------------------------------------------------------------------------

def _previous_hosts() -> rc.RetryPolicy.RetryHostPredicate:
    return rc.RetryPolicy.RetryHostPredicate(name="envoy.retry_host_predicates.previous_hosts",
                                             typed_config=pack(previous_hosts_pb2.PreviousHostsPredicate()))


def default_retry_policy(consistent_hash: bool = False) -> rc.RetryPolicy:
    rp = rc.RetryPolicy(retry_on=DEFAULT_RETRY_ON, host_selection_retry_max_attempts=5,
                        retriable_status_codes=DEFAULT_RETRIABLE_CODES)
    rp.num_retries.value = DEFAULT_RETRIES
    # With consistent hashing a retry must stay on the hashed host, so no previous_hosts predicate.
    if not consistent_hash:
        rp.retry_host_predicate.append(_previous_hosts())
    return rp


def parse_retry_on(retry_on: str) -> tuple[str, list[int]]:
    """Split `retryOn` into Envoy's retry_on conditions and retriable status codes (the integers)."""
    conditions: list[str] = []
    codes: list[int] = []
    for part in (p.strip() for p in retry_on.split(",")):
        if not part:
            continue
        if part.isdigit() and int(part) in _VALID_HTTP_CODES:
            codes.append(int(part))
        else:
            conditions.append(part)
    return ",".join(conditions), codes


def retry_policy(retries: Mapping[str, Any] | None, consistent_hash: bool = False) -> rc.RetryPolicy | None:
    """None means "no retries": an explicit `retries` block without positive `attempts` disables them."""
    rp = default_retry_policy(consistent_hash)
    if retries is None:
        return rp
    attempts = int(retries.get("attempts") or 0)
    if attempts <= 0:
        return None
    rp.num_retries.value = attempts
    if retries.get("retryOn"):
        conditions, codes = parse_retry_on(str(retries["retryOn"]))
        if codes and "retriable-status-codes" not in conditions:
            conditions = ",".join(filter(None, [conditions, "retriable-status-codes"]))
        rp.retry_on = conditions
        del rp.retriable_status_codes[:]
        rp.retriable_status_codes.extend(codes)
    if retries.get("perTryTimeout"):
        rp.per_try_timeout.CopyFrom(duration(parse_duration(retries["perTryTimeout"])))
    if retries.get("retryIgnorePreviousHosts") is not None:
        del rp.retry_host_predicate[:]
        if retries["retryIgnorePreviousHosts"]:
            rp.retry_host_predicate.append(_previous_hosts())
    if retries.get("retryRemoteLocalities"):
        rp.retry_priority.name = "envoy.retry_priorities.previous_priorities"
        rp.retry_priority.typed_config.CopyFrom(
            pack(previous_priorities_config_pb2.PreviousPrioritiesConfig(update_frequency=2)))
    if retries.get("backoff"):
        rp.retry_back_off.base_interval.CopyFrom(duration(parse_duration(retries["backoff"])))
    return rp


# ---- fault injection ----------------------------------------------------------------------------

def fault_config(fault: Mapping[str, Any]) -> fault_pb2.HTTPFault | None:
    """Like Istio, an unset percentage injects nothing, and exponential delays are dropped."""
    f = fault_pb2.HTTPFault()
    delay = fault.get("delay") or {}
    if delay.get("fixedDelay"):
        d = common_fault.FaultDelay()
        if delay.get("percentage") is not None:
            d.percentage.CopyFrom(million(float((delay["percentage"] or {}).get("value", 0))))
        else:
            d.percentage.CopyFrom(hundred(int(delay.get("percent") or 0)))
        d.fixed_delay.CopyFrom(duration(parse_duration(delay["fixedDelay"])))
        f.delay.CopyFrom(d)
    abort = fault.get("abort") or {}
    if abort.get("httpStatus") is not None or abort.get("grpcStatus") is not None:
        a = fault_pb2.FaultAbort()
        if abort.get("percentage") is not None:
            a.percentage.CopyFrom(million(float((abort["percentage"] or {}).get("value", 0))))
        if abort.get("httpStatus") is not None:
            a.http_status = int(abort["httpStatus"])
        else:
            status = str(abort["grpcStatus"])
            a.grpc_status = int(status) if status.isdigit() else GRPC_CODES.get(status.upper(), 2)
        f.abort.CopyFrom(a)
    return f if f.HasField("delay") or f.HasField("abort") else None


# ---- CORS ---------------------------------------------------------------------------------------

def cors_config(cors: Mapping[str, Any]) -> cors_pb2.CorsPolicy:
    c = cors_pb2.CorsPolicy()
    # Istio keeps Envoy's pre-1.30 default (forward preflights from other origins) unless told IGNORE.
    c.forward_not_matching_preflights.value = cors.get("unmatchedPreflights") != "IGNORE"
    if cors.get("allowOrigins") is not None:
        c.allow_origin_string_match.extend(string_matcher(o) for o in cors["allowOrigins"])
    else:
        for o in cors.get("allowOrigin") or []:  # deprecated plain strings, exact match
            c.allow_origin_string_match.add().exact = str(o)
    c.filter_enabled.default_value.CopyFrom(hundred(100))
    if cors.get("allowCredentials") is not None:
        c.allow_credentials.value = bool(cors["allowCredentials"])
    c.allow_headers = ",".join(cors.get("allowHeaders") or [])
    c.allow_methods = ",".join(cors.get("allowMethods") or [])
    c.expose_headers = ",".join(cors.get("exposeHeaders") or [])
    if cors.get("maxAge"):
        c.max_age = str(int(parse_duration(cors["maxAge"])))
    return c


def typed_per_filter(http: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    if http.get("fault"):
        fault = fault_config(http["fault"])
        if fault is not None:
            out[FAULT_FILTER] = pack(fault)
    if http.get("corsPolicy"):
        out[CORS_FILTER] = pack(cors_config(http["corsPolicy"]))
    return out
