"""Istio's standard sidecar layout for captured proxies (node metadata INTERCEPTION_MODE REDIRECT),
from Bookinfo's own YAML with no Sidecar resources (docs/captured-layout.md)."""

from __future__ import annotations

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.route.v3 import route_pb2

from pilot.model.proxy import NodeId
from pilot.translate.generate import CLUSTER, LISTENER, ROUTE, generate
from tests.unit.translate.captured_kit import (
    bookinfo_mesh,
    captured,
    chain,
    cluster,
    listener,
    manager,
    snapshot,
    tcp_cluster,
    unpack,
    view,
)

REVIEWS = "reviews.default.svc.cluster.local"


def test_listener_names_are_istios() -> None:
    out = captured("productpage")
    assert set(out[LISTENER]) == {"virtualOutbound", "virtualInbound", "0.0.0.0_9080"}
    assert set(out[ROUTE]) == {"9080"}


def test_virtual_outbound_hands_off_by_original_destination() -> None:
    lis = listener(captured(), "virtualOutbound")
    sa = lis.address.socket_address
    assert (sa.address, sa.port_value) == ("0.0.0.0", 15001)
    assert lis.use_original_dst.value is True
    assert not lis.HasField("bind_to_port")  # the one outbound listener that binds
    blackhole = chain(lis, "virtualOutbound-blackhole")
    assert blackhole.filter_chain_match.destination_port.value == 15001
    assert tcp_cluster(blackhole) == "BlackHoleCluster"
    assert tcp_cluster(chain(lis, "virtualOutbound-catchall-tcp")) == "PassthroughCluster"


def test_http_port_listener_does_not_bind_and_routes_by_port_name() -> None:
    lis = listener(captured(), "0.0.0.0_9080")
    assert lis.HasField("bind_to_port") and lis.bind_to_port.value is False
    assert (lis.address.socket_address.address, lis.address.socket_address.port_value) == ("0.0.0.0", 9080)
    m = manager(lis.filter_chains[0])
    assert m.rds.route_config_name == "9080" and m.stat_prefix == "outbound_0.0.0.0_9080"


def test_routes_answer_to_the_cluster_ip_and_let_unknown_hosts_pass_under_allow_any() -> None:
    mesh = bookinfo_mesh()
    snap = snapshot(mesh)
    out = generate(snap, view(snap, mesh, "productpage"))
    rcfg = unpack(out[ROUTE]["9080"], route_pb2.RouteConfiguration)
    reviews = next(vh for vh in rcfg.virtual_hosts if vh.name == f"{REVIEWS}:9080")
    vip = mesh.cluster_ip("reviews")
    assert {"reviews", "reviews:9080", vip, f"{vip}:9080"} <= set(reviews.domains)
    last = rcfg.virtual_hosts[-1]
    assert (last.name, list(last.domains), last.routes[0].route.cluster) == ("allow_any", ["*"], "PassthroughCluster")


def test_registry_only_blackholes_unknown_destinations() -> None:
    out = captured(outbound_traffic_policy="REGISTRY_ONLY")
    assert tcp_cluster(chain(listener(out, "virtualOutbound"), "virtualOutbound-catchall-tcp")) == "BlackHoleCluster"
    rcfg = unpack(out[ROUTE]["9080"], route_pb2.RouteConfiguration)
    assert rcfg.virtual_hosts[-1].name == "block_all"
    assert rcfg.virtual_hosts[-1].routes[0].direct_response.status == 502


def test_a_sidecar_outbound_traffic_policy_overrides_the_mesh() -> None:
    sidecar = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
"""
    out = captured(policy_yaml=sidecar)
    assert tcp_cluster(chain(listener(out, "virtualOutbound"), "virtualOutbound-catchall-tcp")) == "BlackHoleCluster"


def test_virtual_inbound_chains_per_service_target_port() -> None:
    lis = listener(captured("reviews-v2"), "virtualInbound")
    assert (lis.address.socket_address.port_value, lis.traffic_direction) == (15006, 1)
    assert [f.name for f in lis.listener_filters] == ["envoy.filters.listener.original_dst"]
    assert [c.name for c in lis.filter_chains] == ["virtualInbound-blackhole", "virtualInbound", "0.0.0.0_9080"]
    assert chain(lis, "virtualInbound-blackhole").filter_chain_match.destination_port.value == 15006
    assert tcp_cluster(chain(lis, "virtualInbound")) == "InboundPassthroughCluster"
    port = chain(lis, "0.0.0.0_9080")
    assert port.filter_chain_match.destination_port.value == 9080
    m = manager(port)
    assert m.route_config.virtual_hosts[0].routes[0].route.cluster == "inbound|9080||"


def test_inbound_clusters_go_to_the_original_destination_from_127_0_0_6() -> None:
    out = captured("reviews-v2")
    for name in ("inbound|9080||", "InboundPassthroughCluster"):
        c = cluster(out, name)
        assert c.type == cluster_pb2.Cluster.ORIGINAL_DST and c.lb_policy == cluster_pb2.Cluster.CLUSTER_PROVIDED
        assert c.upstream_bind_config.source_address.address == "127.0.0.6"
    assert cluster(out, "inbound|9080||").cleanup_interval.seconds == 9223372035  # Envoy's maximum
    passthrough = cluster(out, "PassthroughCluster")
    assert passthrough.type == cluster_pb2.Cluster.ORIGINAL_DST and not passthrough.HasField("upstream_bind_config")


TCP_SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: mongodb, namespace: default}
spec:
  selector: {app: mongodb}
  ports: [{name: mongo, port: 27017}]
---
apiVersion: v1
kind: Service
metadata: {name: mysqldb, namespace: default}
spec:
  clusterIP: None
  selector: {app: mysqldb}
  ports: [{name: tcp, port: 3306}]
"""


def test_tcp_services_are_told_apart_by_cluster_ip() -> None:
    mesh = bookinfo_mesh(TCP_SERVICES)
    snap = snapshot(mesh)
    out = generate(snap, view(snap, mesh, "ratings"))
    vip = mesh.cluster_ip("mongodb")
    lis = listener(out, f"{vip}_27017")
    assert lis.bind_to_port.value is False and lis.address.socket_address.address == vip
    assert tcp_cluster(lis.filter_chains[0]) == "outbound|27017||mongodb.default.svc.cluster.local"
    # headless: no VIP, so the port's wildcard listener carries it
    headless = listener(out, "0.0.0.0_3306")
    assert tcp_cluster(headless.filter_chains[0]) == "outbound|3306||mysqldb.default.svc.cluster.local"


def test_strict_mtls_and_rbac_apply_to_each_inbound_chain() -> None:
    policies = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{to: [{operation: {methods: [GET]}}]}]
"""
    lis = listener(captured("reviews-v1", policy_yaml=policies, workload_mtls=True), "virtualInbound")
    assert [f.name for f in lis.listener_filters] == ["envoy.filters.listener.original_dst",
                                                      "envoy.filters.listener.tls_inspector"]
    blackhole = chain(lis, "virtualInbound-blackhole")
    assert not blackhole.HasField("transport_socket") and len(blackhole.filters) == 1
    http = chain(lis, "0.0.0.0_9080")
    assert http.HasField("transport_socket") and http.filter_chain_match.transport_protocol == "tls"
    assert manager(http).http_filters[0].name == "envoy.filters.http.rbac"
    passthrough = chain(lis, "virtualInbound")
    assert passthrough.HasField("transport_socket")
    assert [f.name for f in passthrough.filters] == ["envoy.filters.network.rbac", "envoy.filters.network.tcp_proxy"]


def test_permissive_mtls_gives_each_port_a_tls_and_a_plaintext_chain() -> None:
    lis = listener(captured("reviews-v1", workload_mtls=True), "virtualInbound")
    port_chains = [c for c in lis.filter_chains if c.filter_chain_match.destination_port.value == 9080]
    assert sorted(c.filter_chain_match.transport_protocol for c in port_chains) == ["raw_buffer", "tls"]
    assert sorted(c.name for c in port_chains) == ["0.0.0.0_9080_mtls", "0.0.0.0_9080_raw_buffer"]


SIDECAR_INGRESS = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: reviews, namespace: default}
spec:
  workloadSelector: {labels: {app: reviews}}
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoint: 127.0.0.1:8080
  - port: {number: 9443, protocol: TCP, name: tcp}
    defaultEndpoint: 0.0.0.0:8443
    captureMode: NONE
"""


def test_sidecar_ingress_replaces_service_ports_and_capture_mode_none_still_binds() -> None:
    out = captured("reviews-v1", policy_yaml=SIDECAR_INGRESS)
    pod_ip = bookinfo_mesh().pod("reviews-v1").ip
    assert f"{pod_ip}_9443" in out[LISTENER] and f"{pod_ip}_9080" not in out[LISTENER]
    lis = listener(out, "virtualInbound")
    assert [c.name for c in lis.filter_chains][2:] == ["0.0.0.0_9080"]
    inbound = cluster(out, "inbound|9080||")  # the defaultEndpoint, not the original destination
    assert inbound.type == cluster_pb2.Cluster.STATIC
    assert inbound.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value == 8080


@pytest.mark.parametrize("interception", ["", "NONE"])
def test_without_capture_the_loopback_layout_is_unchanged(interception: str) -> None:
    """No INTERCEPTION_MODE (every loopback bootstrap) or NONE: no virtual listeners, no passthrough
    clusters; Bookinfo without a Sidecar has no listeners at all, as before."""
    mesh = bookinfo_mesh()
    snap = snapshot(mesh)
    out = generate(snap, view(snap, mesh, "productpage", interception))
    assert out[LISTENER] == {}
    assert "PassthroughCluster" not in out[CLUSTER] and "InboundPassthroughCluster" not in out[CLUSTER]


def test_capture_ports_follow_the_mesh_config() -> None:
    out = captured(proxy_listen_port=25001, proxy_inbound_listen_port=25006)
    assert listener(out, "virtualOutbound").address.socket_address.port_value == 25001
    inbound = listener(out, "virtualInbound")
    assert inbound.address.socket_address.port_value == 25006
    assert chain(inbound, "virtualInbound-blackhole").filter_chain_match.destination_port.value == 25006


def test_node_id_carries_the_interception_mode_outside_the_id() -> None:
    node = NodeId.parse("sidecar~10.1.0.1~a.default~default.svc.cluster.local", "redirect")
    assert node.interception == "REDIRECT" and "REDIRECT" not in str(node)
