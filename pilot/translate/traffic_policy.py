"""DestinationRule trafficPolicy -> Envoy Cluster fields: load balancer, connection pool (circuit breakers
and HTTP protocol options), outlier detection.

Behaviour follows istiod (pilot/pkg/networking/core/cluster_traffic_policy.go, util.MergeSubsetTrafficPolicy):
https://istio.io/latest/docs/reference/config/networking/destination-rule/#TrafficPolicy
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import protocol_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

from pilot.model.durations import parse_duration
from pilot.model.registry import ServicePort
from pilot.model.resource import Resource
from pilot.model.scope import subsets
from pilot.translate.pb import duration, pack, u32

_MAX = 2**32 - 1
HTTP_OPTIONS_EXT = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
# The blocks a port-level setting (or a subset) replaces as a whole.
_PORT_BLOCKS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")


# ---- precedence ---------------------------------------------------------------------------------

def _port_level(policy: Mapping[str, Any], port: int) -> tuple[dict[str, Any], bool]:
    """A port's settings replace the policy's four blocks: they do not inherit from the top level."""
    for pls in policy.get("portLevelSettings") or []:
        if int((pls.get("port") or {}).get("number", -1)) == port:
            return {k: pls[k] for k in _PORT_BLOCKS if pls.get(k) is not None}, True
    return {k: v for k, v in policy.items() if k != "portLevelSettings" and v is not None}, False


def merged_policy(dr: Resource | None, subset: str, port: int) -> dict[str, Any]:
    """The effective trafficPolicy of one cluster: the DR's (or its port's), with the subset's (or its
    port's) blocks laid over it. A subset port-level setting replaces all four blocks."""
    if dr is None:
        return {}
    top = dr.spec.get("trafficPolicy")
    merged, _ = _port_level(top, port) if top else ({}, False)
    ss = next((s for s in subsets(dr) if s.get("name") == subset), {}) if subset else {}
    sub_policy = ss.get("trafficPolicy")
    if not sub_policy:
        return merged
    sub, has_port_level = _port_level(sub_policy, port)
    for key in _PORT_BLOCKS:
        if key in sub or has_port_level:
            merged.pop(key, None)
            if key in sub:
                merged[key] = sub[key]
    for key in ("tunnel", "proxyProtocol", "retryBudget"):
        if key in sub:
            merged[key] = sub[key]
    return merged


# ---- load balancer ------------------------------------------------------------------------------

def _slow_start(lb: Mapping[str, Any]) -> cluster_pb2.Cluster.SlowStartConfig | None:
    warmup = lb.get("warmup")
    if warmup:
        ss = cluster_pb2.Cluster.SlowStartConfig(slow_start_window=duration(parse_duration(warmup["duration"])))
        ss.aggression.default_value = float(warmup.get("aggression", 1.0))
        ss.aggression.runtime_key = "("  # Istio fixes the value; "(" is a key no runtime can hold
        ss.min_weight_percent.value = float(warmup.get("minimumPercent", 10.0))
        return ss
    if lb.get("warmupDurationSecs"):
        return cluster_pb2.Cluster.SlowStartConfig(slow_start_window=duration(parse_duration(lb["warmupDurationSecs"])))
    return None


def apply_load_balancer(c: cluster_pb2.Cluster, lb: Mapping[str, Any]) -> None:
    simple = str(lb.get("simple") or "LEAST_REQUEST")
    slow = _slow_start(lb)
    if simple == "RANDOM":
        c.lb_policy = cluster_pb2.Cluster.RANDOM
    elif simple == "ROUND_ROBIN":
        c.lb_policy = cluster_pb2.Cluster.ROUND_ROBIN
        if slow is not None:
            c.round_robin_lb_config.slow_start_config.CopyFrom(slow)
    elif simple == "PASSTHROUGH":
        # Connect to the address the caller asked for, not to an endpoint of ours.
        c.type = cluster_pb2.Cluster.ORIGINAL_DST
        c.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED
        c.ClearField("eds_cluster_config")
        c.ClearField("load_assignment")
        return
    else:  # LEAST_REQUEST, deprecated LEAST_CONN, UNSPECIFIED: Istio's default
        c.lb_policy = cluster_pb2.Cluster.LEAST_REQUEST
        if slow is not None:
            c.least_request_lb_config.slow_start_config.CopyFrom(slow)
    ch = lb.get("consistentHash")
    if not ch:
        return
    if "maglev" in ch:
        c.lb_policy = cluster_pb2.Cluster.MAGLEV
        if (ch["maglev"] or {}).get("tableSize"):
            c.maglev_lb_config.table_size.value = int(ch["maglev"]["tableSize"])
    elif "ringHash" in ch:
        c.lb_policy = cluster_pb2.Cluster.RING_HASH
        if (ch["ringHash"] or {}).get("minimumRingSize"):
            c.ring_hash_lb_config.minimum_ring_size.value = int(ch["ringHash"]["minimumRingSize"])
    else:
        c.lb_policy = cluster_pb2.Cluster.RING_HASH
        c.ring_hash_lb_config.minimum_ring_size.value = int(ch.get("minimumRingSize") or 1024)


# ---- connection pool ----------------------------------------------------------------------------

def default_thresholds() -> circuit_breaker_pb2.CircuitBreakers.Thresholds:
    # Istio's defaults: every threshold at max uint32, so Envoy's own 1024 limits never bite.
    return circuit_breaker_pb2.CircuitBreakers.Thresholds(
        max_connections=u32(_MAX), max_pending_requests=u32(_MAX), max_requests=u32(_MAX),
        max_retries=u32(_MAX), track_remaining=True)


def _positive(block: Mapping[str, Any], key: str) -> int:
    """Istio cannot tell an unset limit from 0, so 0 means "the default"."""
    return max(int(block.get(key) or 0), 0)


def apply_connection_pool(c: cluster_pb2.Cluster, pool: Mapping[str, Any], sp: ServicePort,
                          retry_budget: Mapping[str, Any] | None = None) -> None:
    tcp = pool.get("tcp") or {}
    http = pool.get("http") or {}
    th = default_thresholds()
    for field, block, key in (("max_requests", http, "http2MaxRequests"),
                              ("max_pending_requests", http, "http1MaxPendingRequests"),
                              ("max_retries", http, "maxRetries"), ("max_connections", tcp, "maxConnections")):
        if _positive(block, key):
            getattr(th, field).value = _positive(block, key)
    if retry_budget is not None:
        # A DoubleValue: a plain number in YAML (Envoy's default is 20 %).
        percent = retry_budget.get("percent")
        th.retry_budget.budget_percent.value = float(percent) if isinstance(percent, int | float) else 20.0
        th.retry_budget.min_retry_concurrency.value = _positive(retry_budget, "minRetryConcurrency") or 3
    c.circuit_breakers.ClearField("thresholds")
    c.circuit_breakers.thresholds.append(th)
    if tcp.get("connectTimeout"):
        c.connect_timeout.CopyFrom(duration(parse_duration(tcp["connectTimeout"])))
    keepalive = tcp.get("tcpKeepalive")
    if keepalive is not None:
        ka = c.upstream_connection_options.tcp_keepalive  # empty = SO_KEEPALIVE with OS defaults
        ka.SetInParent()
        if _positive(keepalive, "probes"):
            ka.keepalive_probes.value = _positive(keepalive, "probes")
        if keepalive.get("time"):
            ka.keepalive_time.value = int(parse_duration(keepalive["time"]))
        if keepalive.get("interval"):
            ka.keepalive_interval.value = int(parse_duration(keepalive["interval"]))
    _apply_http_options(c, tcp, http, sp)


def _apply_http_options(c: cluster_pb2.Cluster, tcp: Mapping[str, Any], http: Mapping[str, Any],
                        sp: ServicePort) -> None:
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    common = opts.common_http_protocol_options
    idle = http.get("idleTimeout") or tcp.get("idleTimeout")
    if idle:
        common.idle_timeout.CopyFrom(duration(parse_duration(idle)))
    if _positive(http, "maxRequestsPerConnection"):
        common.max_requests_per_connection.value = _positive(http, "maxRequestsPerConnection")
    if tcp.get("maxConnectionDuration"):
        common.max_connection_duration.CopyFrom(duration(parse_duration(tcp["maxConnectionDuration"])))
    if http.get("useClientProtocol"):
        opts.use_downstream_protocol_config.http_protocol_options.SetInParent()
        opts.use_downstream_protocol_config.http2_protocol_options.SetInParent()
    elif sp.protocol in ("HTTP2", "GRPC") or http.get("h2UpgradePolicy") == "UPGRADE":
        h2 = protocol_pb2.Http2ProtocolOptions()
        if _positive(http, "maxConcurrentStreams"):
            h2.max_concurrent_streams.value = _positive(http, "maxConcurrentStreams")
        keepalive = http.get("http2KeepAlive")
        if keepalive:
            if keepalive.get("interval"):
                h2.connection_keepalive.interval.CopyFrom(duration(parse_duration(keepalive["interval"])))
            if keepalive.get("timeout"):
                h2.connection_keepalive.timeout.CopyFrom(duration(parse_duration(keepalive["timeout"])))
        opts.explicit_http_config.http2_protocol_options.CopyFrom(h2)
    elif opts.HasField("common_http_protocol_options"):
        opts.explicit_http_config.http_protocol_options.CopyFrom(protocol_pb2.Http1ProtocolOptions())
    if opts.ListFields():
        c.typed_extension_protocol_options[HTTP_OPTIONS_EXT].CopyFrom(pack(opts))


# ---- outlier detection --------------------------------------------------------------------------

def outlier_detection(od: Mapping[str, Any]) -> outlier_detection_pb2.OutlierDetection:
    """Istio drives ejection by consecutive errors only: success-rate ejection is switched off, and
    whatever Istio leaves unset keeps Envoy's default (5 consecutive 5xx, 10 s interval, 30 s, 10 %)."""
    o = outlier_detection_pb2.OutlierDetection(enforcing_success_rate=u32(0))
    if od.get("consecutive5xxErrors") is not None:
        n = int(od["consecutive5xxErrors"])
        o.consecutive_5xx.value = n
        o.enforcing_consecutive_5xx.value = 100 if n > 0 else 0
    if od.get("consecutiveGatewayErrors") is not None:
        n = int(od["consecutiveGatewayErrors"])
        o.consecutive_gateway_failure.value = n
        o.enforcing_consecutive_gateway_failure.value = 100 if n > 0 else 0
    if od.get("interval"):
        o.interval.CopyFrom(duration(parse_duration(od["interval"])))
    if od.get("baseEjectionTime"):
        o.base_ejection_time.CopyFrom(duration(parse_duration(od["baseEjectionTime"])))
    if _positive(od, "maxEjectionPercent"):
        o.max_ejection_percent.value = _positive(od, "maxEjectionPercent")
    if od.get("splitExternalLocalOriginErrors"):
        o.split_external_local_origin_errors = True
        if _positive(od, "consecutiveLocalOriginFailures"):
            o.consecutive_local_origin_failure.value = _positive(od, "consecutiveLocalOriginFailures")
            o.enforcing_consecutive_local_origin_failure.value = 100
        o.enforcing_local_origin_success_rate.value = 0
    return o


def apply_outlier_detection(c: cluster_pb2.Cluster, od: Mapping[str, Any]) -> None:
    c.outlier_detection.CopyFrom(outlier_detection(od))
    # Istio switches Envoy's panic mode off (minHealthPercent defaults to 0): with few pods per
    # service, panic would send traffic back to the ejected ones.
    c.common_lb_config.healthy_panic_threshold.value = float(max(int(od.get("minHealthPercent") or 0), 0))


def apply_traffic_policy(c: cluster_pb2.Cluster, policy: Mapping[str, Any], sp: ServicePort) -> None:
    apply_load_balancer(c, policy.get("loadBalancer") or {})
    if policy.get("connectionPool") is not None or policy.get("retryBudget") is not None:
        apply_connection_pool(c, policy.get("connectionPool") or {}, sp, policy.get("retryBudget"))
    else:
        c.circuit_breakers.thresholds.append(default_thresholds())
        _apply_http_options(c, {}, {}, sp)
    if policy.get("outlierDetection"):
        apply_outlier_detection(c, policy["outlierDetection"])
