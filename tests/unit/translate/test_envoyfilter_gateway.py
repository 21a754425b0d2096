"""Istio's global rate-limit recipe on an ingress gateway (context GATEWAY, vhost and RDS port match)."""

from __future__ import annotations

import copy

import yaml
from envoy.config.route.v3 import route_pb2

from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.translate.envoyfilter.lists import unpack
from pilot.translate.envoyfilter.route_patches import rds_port
from pilot.translate.generate import ROUTE, generate_with_findings
from tests.unit.translate.envoyfilter_kit import MESH, manager

GATEWAY = """
apiVersion: v1
kind: Pod
metadata: {name: gw-0, namespace: istio-system, labels: {istio: ingressgateway}}
status: {podIP: 127.40.5.1}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web-gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: [web.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example.com]
  gateways: [web-gw]
  http: [{route: [{destination: {host: productpage}}]}]
"""
ROUTER = NodeId.parse("router~127.40.5.1~gw-0.istio-system~istio-system.svc.cluster.local")
# Istio's task, "Global rate limit" (filter-ratelimit + filter-ratelimit-svc), as users write it.
ISTIO_GLOBAL = [
    {"applyTo": "HTTP_FILTER", "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
        "name": "envoy.filters.network.http_connection_manager",
        "subFilter": {"name": "envoy.filters.http.router"}}}}},
     "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.filters.http.ratelimit", "typed_config": {
         "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
         "domain": "productpage-ratelimit", "failure_mode_deny": True, "timeout": "10s",
         "rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "outbound|8081||ratelimit.default.svc"
                                                                                ".cluster.local"},
                                                 "timeout": "10s"},
                                "transport_api_version": "V3"}}}}},
    {"applyTo": "VIRTUAL_HOST", "match": {"context": "GATEWAY", "routeConfiguration": {
        "vhost": {"name": "web.example.com:8080", "route": {"action": "ANY"}}}},
     "patch": {"operation": "MERGE", "value": {"rate_limits": [{"actions": [
         {"request_headers": {"header_name": ":path", "descriptor_key": "PATH"}}]}]}}},
]


def _run(patches: list[dict], port: int = 0) -> tuple:  # type: ignore[type-arg]
    patches = copy.deepcopy(patches)
    for p in patches:
        if port and "routeConfiguration" in p["match"]:
            p["match"]["routeConfiguration"]["portNumber"] = port
    ef = yaml.safe_dump({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
                         "metadata": {"name": "filter-ratelimit", "namespace": "istio-system"},
                         "spec": {"workloadSelector": {"labels": {"istio": "ingressgateway"}},
                                  "configPatches": patches}})
    snap = build_snapshot(resources_from_yaml(MESH.yaml() + "---\n" + GATEWAY) + resources_from_yaml(ef))
    return generate_with_findings(snap, snap.proxy_view(ROUTER))


def test_istio_global_recipe_applies_on_the_gateway_only() -> None:
    out, findings = _run(ISTIO_GLOBAL, port=8080)
    assert not findings, [f.line() for f in findings]
    assert [f.name for f in manager(out, "0.0.0.0_8080").http_filters][-2:] == [
        "envoy.filters.http.ratelimit", "envoy.filters.http.router"]
    rcfg = unpack(out[ROUTE]["http.8080"])
    assert isinstance(rcfg, route_pb2.RouteConfiguration)
    web = next(vh for vh in rcfg.virtual_hosts if vh.name == "web.example.com:8080")
    assert web.rate_limits[0].actions[0].request_headers.descriptor_key == "PATH"


def test_gateway_context_matches_nothing_on_a_sidecar() -> None:
    patches = copy.deepcopy(ISTIO_GLOBAL)
    ef = yaml.safe_dump({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
                         "metadata": {"name": "everyone", "namespace": "istio-system"},
                         "spec": {"configPatches": patches}})
    snap = build_snapshot(resources_from_yaml(MESH.yaml() + "---\n" + GATEWAY) + resources_from_yaml(ef))
    _out, findings = generate_with_findings(snap, snap.proxy_view(NodeId.parse(MESH.pods[0].node_id)))
    assert [f.code for f in findings] == ["MP5003", "MP5003"]


def test_gateway_route_port_match_uses_the_server_port() -> None:
    assert (rds_port("9080"), rds_port("http.8080"), rds_port("https.8443.https.web-gw.default"), rds_port("x")) \
        == (9080, 8080, 8443, 0)
    _out, findings = _run([ISTIO_GLOBAL[1]], port=9999)
    assert [f.code for f in findings] == ["MP5003"]
