from __future__ import annotations

from pilot.model.proxy import NodeId
from pilot.model.scope import (
    destination_rule_for,
    imports,
    resolve_host,
    sidecar_for,
    virtual_service_for,
    visible_services,
)
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml

YAML = """
apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns1}
spec: {selector: {app: a}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: ns2}
spec: {selector: {app: b}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a-0, namespace: ns1, labels: {app: a}}
status: {podIP: 127.1.0.1}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ns1}
spec:
  egress: [{hosts: ["./*"]}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: b-routes, namespace: ns2, creationTimestamp: "2024-01-02T00:00:00Z"}
spec: {hosts: [b], http: [{route: [{destination: {host: b}}]}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: b-older, namespace: ns2, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: [b.ns2.svc.cluster.local], http: [{route: [{destination: {host: b}}]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b-root, namespace: istio-system}
spec: {host: b.ns2.svc.cluster.local}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b-own, namespace: ns2}
spec: {host: b}
"""


def _view(snap, ip="127.1.0.1", pod="a-0", ns="ns1"):  # type: ignore[no-untyped-def]
    return snap.proxy_view(NodeId.parse(f"sidecar~{ip}~{pod}.{ns}~{ns}.svc.cluster.local"))


def test_resolve_short_names_in_the_resource_namespace() -> None:
    assert resolve_host("reviews", "default") == "reviews.default.svc.cluster.local"
    assert resolve_host("reviews.other.svc.cluster.local", "default") == "reviews.other.svc.cluster.local"
    assert resolve_host("*.example.com", "default") == "*.example.com"


def test_sidecar_egress_hosts_scope_visible_services() -> None:
    snap = build_snapshot(resources_from_yaml(YAML))
    view = _view(snap)
    assert sidecar_for(snap, view) is not None
    assert [s.name for s in visible_services(snap, view)] == ["a"]
    assert imports(["*/*"], "ns1", "ns2", "b.ns2.svc.cluster.local")
    assert imports(["ns2/b.ns2.svc.cluster.local"], "ns1", "ns2", "b.ns2.svc.cluster.local")
    assert not imports(["~/*"], "ns1", "ns2", "b.ns2.svc.cluster.local")


def test_oldest_virtual_service_wins_and_dr_prefers_service_namespace_over_root() -> None:
    snap = build_snapshot(resources_from_yaml(YAML))
    view = _view(snap, "127.9.9.9", "x", "ns3")  # namespace without a Sidecar: sees everything
    vs = virtual_service_for(snap, view, "b.ns2.svc.cluster.local")
    assert vs is not None and vs.name == "b-older"
    dr = destination_rule_for(snap, view, "b.ns2.svc.cluster.local")
    assert dr is not None and dr.name == "b-own"
