from __future__ import annotations

from pilot.model.proxy import ProxyView
from pilot.model.scope import visible_services
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml

ENTRIES = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ns1}
spec:
  hosts: [api.example.com, www.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  addresses: [240.0.0.1]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}, {number: 443, name: tls-x, protocol: TLS}]
  endpoints:
  - {address: 127.9.0.1, ports: {http: 18080}, labels: {zone: a}}
  - {address: 127.9.0.2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: ns1}
spec:
  hosts: [dns.example.com]
  resolution: DNS
  ports: [{number: 80, name: http}]
  endpoints: [{address: localhost}]
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: passthrough, namespace: ns1}
spec:
  hosts: ["*.wild.example.com"]
  resolution: NONE
  ports: [{number: 9000, name: tcp, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: ns1}
spec:
  hosts: [vm-svc]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http}]
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: ns1}
spec: {address: 127.9.1.1, labels: {app: vm, version: v1}, serviceAccount: vm-sa, ports: {http: 19080}}
---
apiVersion: v1
kind: Pod
metadata: {name: vm-pod, namespace: ns1, labels: {app: vm, version: v2}}
status: {podIP: 127.9.1.2}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-ns, namespace: ns2}
spec: {address: 127.9.1.3, labels: {app: vm}}
"""


def _snap():  # type: ignore[no-untyped-def]
    return build_snapshot(resources_from_yaml(ENTRIES))


def test_one_service_per_host_with_ports_location_and_addresses() -> None:
    snap = _snap()
    api, www = snap.services["api.example.com"], snap.services["www.example.com"]
    assert api.ports == www.ports
    assert [(p.port, p.target_port, p.protocol) for p in api.ports] == [(80, 8080, "HTTP"), (443, 443, "TLS")]
    assert api.mesh_external and api.resolution == "STATIC" and api.addresses == ("240.0.0.1",)
    assert api.namespace == "ns1" and api.short_names() == ()
    assert not snap.services["vm-svc.ns1.svc.cluster.local"].mesh_external


def test_static_endpoints_map_port_names_and_fall_back_to_target_port() -> None:
    eps = _snap().service_endpoints("api.example.com", 80)
    assert [(e.address, e.port, dict(e.labels)) for e in eps] == [
        ("127.9.0.1", 18080, {"zone": "a"}), ("127.9.0.2", 8080, {})]
    assert [e.port for e in _snap().service_endpoints("api.example.com", 443)] == [443, 443]


def test_resolutions_and_protocol_from_port_name() -> None:
    snap = _snap()
    assert snap.services["dns.example.com"].resolution == "DNS"
    assert snap.services["dns.example.com"].ports[0].protocol == "HTTP"
    assert snap.services["*.wild.example.com"].resolution == "NONE"
    assert snap.service_endpoints("dns.example.com", 80)[0].address == "localhost"


def test_workload_selector_picks_pods_and_workload_entries_of_its_namespace() -> None:
    snap = _snap()
    eps = snap.service_endpoints("vm-svc.ns1.svc.cluster.local", 9080)
    assert [(e.address, e.port, e.workload) for e in eps] == [
        ("127.9.1.1", 19080, "vm-1"), ("127.9.1.2", 9080, "vm-pod")]
    assert eps[0].service_account == "vm-sa"
    # A WorkloadEntry is a workload: a proxy on its address gets its labels.
    assert snap.workload("ns1", "127.9.1.1").labels["version"] == "v1"  # type: ignore[union-attr]


def test_kubernetes_service_selects_workload_entries_too() -> None:
    text = ENTRIES + """
---
apiVersion: v1
kind: Service
metadata: {name: vmk, namespace: ns1}
spec: {selector: {app: vm}, ports: [{name: http, port: 9080}]}
"""
    eps = build_snapshot(resources_from_yaml(text)).service_endpoints("vmk.ns1.svc.cluster.local", 9080)
    assert [e.address for e in eps] == ["127.9.1.1", "127.9.1.2"]


def test_kubernetes_service_wins_over_an_entry_for_the_same_host() -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns1}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shadow, namespace: ns1}
spec: {hosts: [a.ns1.svc.cluster.local], ports: [{number: 81, name: http}], resolution: DNS}
"""
    svc = build_snapshot(resources_from_yaml(text)).services["a.ns1.svc.cluster.local"]
    assert svc.resolution == "STATIC" and svc.ports[0].port == 80


def test_export_to_dot_hides_the_entry_from_other_namespaces() -> None:
    snap = _snap()
    same = {s.hostname for s in visible_services(snap, ProxyView("sidecar", "127.0.0.9", "p", "ns1"))}
    other = {s.hostname for s in visible_services(snap, ProxyView("sidecar", "127.0.0.9", "p", "ns2"))}
    assert "dns.example.com" in same and "dns.example.com" not in other
    assert "api.example.com" in other
