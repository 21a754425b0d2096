"""DestinationRule policies -> clusters, and whole VirtualService routes, generated for the e2e mesh of
policies/traffic-http (the same YAML tests/e2e/test_traffic_http.py proves through real Envoy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

from pilot.model.proxy import NodeId
from pilot.model.registry import ServicePort
from pilot.model.resource import Resource
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.testing.mesh import LoopbackMesh
from pilot.translate.generate import CLUSTER, ROUTE, generate
from pilot.translate.traffic_policy import HTTP_OPTIONS_EXT, apply_traffic_policy, merged_policy

REPO = Path(__file__).resolve().parents[3]
MESH = LoopbackMesh.build([("client", "v1"), ("client", "v2"), ("web", "v1"), ("web", "v2"), ("shadow", "v1")],
                          block=(127, 40, 0))
WEB = "web.default.svc.cluster.local"
HTTP = ServicePort(name="http", port=9080, target_port=9080, protocol="HTTP")


def _dr(spec: str) -> Resource:
    return resources_from_yaml(yaml.safe_dump({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                                               "metadata": {"name": "r", "namespace": "default"},
                                               "spec": yaml.safe_load(spec)}))[0]


def _cluster(policy: dict[str, Any], sp: ServicePort = HTTP) -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(name="c", type=cluster_pb2.Cluster.EDS)
    apply_traffic_policy(c, policy, sp)
    return c


# ---- precedence ---------------------------------------------------------------------------------

PRECEDENCE = """
host: web
trafficPolicy:
  loadBalancer: {simple: RANDOM}
  outlierDetection: {consecutive5xxErrors: 7}
  portLevelSettings:
  - port: {number: 9080}
    loadBalancer: {simple: ROUND_ROBIN}
subsets:
- name: plain
  labels: {version: v1}
- name: own
  labels: {version: v2}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 3}}
- name: own-port
  labels: {version: v2}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 3}}
    portLevelSettings:
    - port: {number: 9080}
      outlierDetection: {consecutive5xxErrors: 1}
"""


def test_port_level_settings_replace_the_top_level_blocks() -> None:
    dr = _dr(PRECEDENCE)
    # Another port: the top level. This port: only what its port-level setting says (no inheritance).
    assert merged_policy(dr, "", 9090) == {"loadBalancer": {"simple": "RANDOM"},
                                           "outlierDetection": {"consecutive5xxErrors": 7}}
    assert merged_policy(dr, "", 9080) == {"loadBalancer": {"simple": "ROUND_ROBIN"}}
    assert merged_policy(dr, "plain", 9080) == {"loadBalancer": {"simple": "ROUND_ROBIN"}}


def test_subset_policy_lays_its_blocks_over_and_its_port_level_replaces_all() -> None:
    dr = _dr(PRECEDENCE)
    assert merged_policy(dr, "own", 9090) == {"loadBalancer": {"simple": "RANDOM"},
                                              "outlierDetection": {"consecutive5xxErrors": 7},
                                              "connectionPool": {"tcp": {"maxConnections": 3}}}
    assert merged_policy(dr, "own-port", 9080) == {"outlierDetection": {"consecutive5xxErrors": 1}}
    assert merged_policy(None, "x", 9080) == {}


# ---- load balancer ------------------------------------------------------------------------------

@pytest.mark.parametrize("simple, policy", [
    (None, cluster_pb2.Cluster.LEAST_REQUEST), ("LEAST_CONN", cluster_pb2.Cluster.LEAST_REQUEST),
    ("ROUND_ROBIN", cluster_pb2.Cluster.ROUND_ROBIN), ("RANDOM", cluster_pb2.Cluster.RANDOM),
    ("PASSTHROUGH", cluster_pb2.Cluster.CLUSTER_PROVIDED)])
def test_simple_load_balancers(simple: str | None, policy: int) -> None:
    c = _cluster({"loadBalancer": {"simple": simple}} if simple else {})
    assert c.lb_policy == policy
    if simple == "PASSTHROUGH":
        assert c.type == cluster_pb2.Cluster.ORIGINAL_DST


def test_consistent_hash_and_warmup() -> None:
    assert _cluster({"loadBalancer": {"consistentHash": {"httpHeaderName": "x"}}}) \
        .ring_hash_lb_config.minimum_ring_size.value == 1024
    c = _cluster({"loadBalancer": {"consistentHash": {"useSourceIp": True, "maglev": {"tableSize": 65537}}}})
    assert c.lb_policy == cluster_pb2.Cluster.MAGLEV and c.maglev_lb_config.table_size.value == 65537
    c = _cluster({"loadBalancer": {"consistentHash": {"httpHeaderName": "x", "ringHash": {"minimumRingSize": 64}}}})
    assert c.lb_policy == cluster_pb2.Cluster.RING_HASH and c.ring_hash_lb_config.minimum_ring_size.value == 64
    c = _cluster({"loadBalancer": {"simple": "ROUND_ROBIN", "warmup": {"duration": "30s", "aggression": 2}}})
    ss = c.round_robin_lb_config.slow_start_config
    assert (ss.slow_start_window.seconds, ss.aggression.default_value, ss.min_weight_percent.value) == (30, 2, 10)


# ---- connection pool ----------------------------------------------------------------------------

def test_default_thresholds_are_unlimited() -> None:
    th = _cluster({}).circuit_breakers.thresholds[0]
    assert {th.max_connections.value, th.max_pending_requests.value, th.max_requests.value,
            th.max_retries.value} == {2**32 - 1}
    assert th.track_remaining


def test_connection_pool_limits_and_http_options() -> None:
    c = _cluster({"connectionPool": {
        "tcp": {"maxConnections": 1, "connectTimeout": "250ms", "tcpKeepalive": {"time": "60s", "probes": 3},
                "maxConnectionDuration": "1h"},
        "http": {"http1MaxPendingRequests": 2, "http2MaxRequests": 3, "maxRetries": 0, "idleTimeout": "5s",
                 "maxRequestsPerConnection": 10}}})
    th = c.circuit_breakers.thresholds[0]
    assert (th.max_connections.value, th.max_pending_requests.value, th.max_requests.value) == (1, 2, 3)
    assert th.max_retries.value == 2**32 - 1  # 0 reads as "unset", like Istio
    assert c.connect_timeout.ToMilliseconds() == 250
    ka = c.upstream_connection_options.tcp_keepalive
    assert (ka.keepalive_time.value, ka.keepalive_probes.value) == (60, 3)
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    assert c.typed_extension_protocol_options[HTTP_OPTIONS_EXT].Unpack(opts)
    common = opts.common_http_protocol_options
    assert (common.idle_timeout.seconds, common.max_requests_per_connection.value) == (5, 10)
    assert common.max_connection_duration.seconds == 3600
    assert opts.explicit_http_config.HasField("http_protocol_options")


def test_h2_upgrade_and_client_protocol() -> None:
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    c = _cluster({"connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE", "maxConcurrentStreams": 9}}})
    assert c.typed_extension_protocol_options[HTTP_OPTIONS_EXT].Unpack(opts)
    assert opts.explicit_http_config.http2_protocol_options.max_concurrent_streams.value == 9
    c = _cluster({"connectionPool": {"http": {"useClientProtocol": True}}})
    assert c.typed_extension_protocol_options[HTTP_OPTIONS_EXT].Unpack(opts)
    assert opts.HasField("use_downstream_protocol_config")
    assert HTTP_OPTIONS_EXT not in _cluster({}).typed_extension_protocol_options


# ---- outlier detection --------------------------------------------------------------------------

def test_outlier_detection_and_panic_threshold() -> None:
    c = _cluster({"outlierDetection": {"consecutive5xxErrors": 2, "consecutiveGatewayErrors": 0, "interval": "1s",
                                       "baseEjectionTime": "1m", "maxEjectionPercent": 50}})
    od = c.outlier_detection
    assert (od.consecutive_5xx.value, od.enforcing_consecutive_5xx.value) == (2, 100)
    assert od.HasField("consecutive_gateway_failure") and od.enforcing_consecutive_gateway_failure.value == 0
    assert (od.interval.seconds, od.base_ejection_time.seconds, od.max_ejection_percent.value) == (1, 60, 50)
    assert od.HasField("enforcing_success_rate") and od.enforcing_success_rate.value == 0
    # Istio switches panic mode off unless minHealthPercent says otherwise.
    assert c.common_lb_config.HasField("healthy_panic_threshold")
    assert c.common_lb_config.healthy_panic_threshold.value == 0
    c = _cluster({"outlierDetection": {"minHealthPercent": 40}})
    assert c.common_lb_config.healthy_panic_threshold.value == 40
    # What Istio leaves unset keeps Envoy's defaults.
    assert not c.outlier_detection.HasField("consecutive_5xx")
    assert not c.outlier_detection.HasField("max_ejection_percent")
    assert not _cluster({}).HasField("outlier_detection")


def test_local_origin_errors() -> None:
    od = _cluster({"outlierDetection": {"splitExternalLocalOriginErrors": True,
                                        "consecutiveLocalOriginFailures": 4}}).outlier_detection
    assert od.split_external_local_origin_errors
    assert (od.consecutive_local_origin_failure.value, od.enforcing_consecutive_local_origin_failure.value) == (4, 100)


# ---- whole routes for the e2e mesh --------------------------------------------------------------

def _generated(pod: str) -> dict[str, Any]:
    text = MESH.yaml() + "".join("\n---\n" + f.read_text() for f in sorted((REPO / "policies/traffic-http").glob("*")))
    snap = build_snapshot(resources_from_yaml(text))
    p = next(x for x in MESH.pods if x.name == pod)
    return generate(snap, snap.proxy_view(NodeId.parse(p.node_id)))


def _web_routes(pod: str = "client-v1-0") -> dict[str, rc.Route]:
    rcfg = route_pb2.RouteConfiguration()
    assert _generated(pod)[ROUTE]["9080"].Unpack(rcfg)
    vh = next(v for v in rcfg.virtual_hosts if v.name == f"{WEB}:9080")
    return {r.name: r for r in vh.routes}


def test_single_destination_headers_go_on_the_route() -> None:
    r = _web_routes()["headers"]
    assert r.route.cluster == f"outbound|9080|v1|{WEB}"
    assert [h.header.key for h in r.request_headers_to_add] == ["x-req-set", "x-req-add", "x-dest"]
    assert [h.header.key for h in r.response_headers_to_add] == ["x-resp-set", "x-dest-resp"]
    assert list(r.request_headers_to_remove) == ["x-drop-me"]
    assert list(r.response_headers_to_remove) == ["x-app"]


def test_weighted_destination_headers_go_on_each_cluster_weight() -> None:
    clusters = _web_routes()["weighted-headers"].route.weighted_clusters.clusters
    assert [(c.name.split("|")[2], c.weight.value, c.request_headers_to_add[0].header.value,
             c.response_headers_to_add[0].header.value) for c in clusters] == [("v1", 50, "v1", "v1"),
                                                                              ("v2", 50, "v2", "v2")]


def test_subset_hash_policy_reaches_the_route_and_retries_stay_on_the_host() -> None:
    routes = _web_routes()
    sticky = routes["sticky"].route
    assert [h.header.header_name for h in sticky.hash_policy] == ["x-user"]
    assert not sticky.retry_policy.retry_host_predicate
    assert not routes["guarded"].route.hash_policy and not routes["guarded"].route.HasField("retry_policy")


def test_timeout_rewrite_and_source_labels() -> None:
    routes = _web_routes()
    assert routes["timeout"].route.timeout.ToMilliseconds() == 500
    assert routes["timeout"].route.max_grpc_timeout.ToMilliseconds() == 500
    assert routes["retry"].route.timeout.ToMilliseconds() == 0  # Istio: no timeout unless set
    assert routes["rewrite"].route.prefix_rewrite == "/new"
    assert routes["rewrite"].route.host_rewrite_literal == "rewritten.example"
    assert "by-source" not in routes
    assert _web_routes("client-v2-0")["by-source"].direct_response.body.inline_string == "source-v2"
    # Nothing follows the match-all route.
    assert list(routes)[-1] == "default"


def test_subset_clusters_carry_their_own_policy() -> None:
    out = _generated("client-v1-0")[CLUSTER]

    def cluster(subset: str) -> cluster_pb2.Cluster:
        c = cluster_pb2.Cluster()
        assert out[f"outbound|9080|{subset}|{WEB}"].Unpack(c)
        return c

    assert cluster("v1").lb_policy == cluster_pb2.Cluster.ROUND_ROBIN  # from the top level
    assert cluster("sticky").lb_policy == cluster_pb2.Cluster.RING_HASH
    assert cluster("guarded").outlier_detection.consecutive_5xx.value == 2
    assert not cluster("v1").HasField("outlier_detection")
    assert cluster("tiny").circuit_breakers.thresholds[0].max_connections.value == 1
