from __future__ import annotations

import pytest

from pilot.model.delegate import MatchConflict, expand_delegates, merge_match
from pilot.model.gateway import gateway_servers, hosts_on_server, servers_by_listener
from pilot.model.proxy import ProxyView
from pilot.model.scope import sidecar_for, virtual_service_for
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml

GATEWAYS = """
apiVersion: v1
kind: Pod
metadata: {name: gw-0, namespace: istio-system, labels: {app: gw, istio: ingressgateway}}
status: {podIP: 127.8.0.1}
---
apiVersion: v1
kind: Service
metadata: {name: gw, namespace: istio-system}
spec: {selector: {app: gw}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["default/*.example.com"]
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    bind: 127.8.5.5
    tls: {mode: SIMPLE, credentialName: cert}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  selector: {istio: eastwest}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [a.example.com]
  gateways: [web]
  http: [{match: [{uri: {prefix: /one}}], route: [{destination: {host: one}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: team, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  hosts: ["*", a.example.com]
  gateways: [default/web]
  http: [{route: [{destination: {host: two}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-only, namespace: default}
spec:
  hosts: [a.example.com]
  http: [{route: [{destination: {host: three}}]}]
"""

GW_VIEW = ProxyView("router", "127.8.0.1", "gw-0", "istio-system",
                    labels=(("app", "gw"), ("istio", "ingressgateway")))


def test_gateway_selector_and_service_target_port() -> None:
    snap = build_snapshot(resources_from_yaml(GATEWAYS))
    servers = gateway_servers(snap, GW_VIEW)
    assert [(s.gateway, s.number, s.listen_port) for s in servers] == [
        ("default/web", 80, 8080), ("default/web", 8443, 8443)]
    assert set(servers_by_listener(snap, GW_VIEW)) == {("127.8.0.1", 8080), ("127.8.5.5", 8443)}
    assert servers[0].host_names() == ("*.example.com",)
    assert servers[1].terminates_http and servers[1].is_tls
    sidecar_view = ProxyView("sidecar", "127.8.0.1", "gw-0", "istio-system", labels=GW_VIEW.labels)
    assert gateway_servers(snap, sidecar_view) == []


def test_gateway_merges_virtual_services_per_host_oldest_first() -> None:
    snap = build_snapshot(resources_from_yaml(GATEWAYS))
    http_server = gateway_servers(snap, GW_VIEW)[0]
    hosts = hosts_on_server(snap, GW_VIEW, http_server)
    # `*` narrows to the server's `*.example.com`; a.example.com, named by both VSs, merges them
    # oldest first (a wildcard VS does not join an exact host's virtual host).
    assert {h: [v.name for v in vs] for h, vs in hosts.items()} == {
        "a.example.com": ["first", "second"], "*.example.com": ["second"]}


def test_routers_never_take_a_sidecar() -> None:
    text = GATEWAYS + """
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec: {egress: [{hosts: ["./*"]}]}
"""
    assert sidecar_for(build_snapshot(resources_from_yaml(text)), GW_VIEW) is None


PRECEDENCE = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wide, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: ["*.example.com"], http: [{route: [{destination: {host: w}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: narrow, namespace: default, creationTimestamp: "2024-03-01T00:00:00Z"}
spec: {hosts: ["*.api.example.com"], http: [{route: [{destination: {host: n}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exact-new, namespace: default, creationTimestamp: "2024-05-01T00:00:00Z"}
spec: {hosts: [x.api.example.com], http: [{route: [{destination: {host: e2}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exact-old, namespace: default, creationTimestamp: "2024-04-01T00:00:00Z"}
spec: {hosts: [x.api.example.com], http: [{route: [{destination: {host: e1}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: other, creationTimestamp: "2023-01-01T00:00:00Z"}
spec: {hosts: [x.api.example.com], exportTo: ["."], http: [{route: [{destination: {host: p}}]}]}
"""


@pytest.mark.parametrize("host, expected", [
    ("x.api.example.com", "exact-old"),  # exact beats wildcards; the oldest exact wins
    ("y.api.example.com", "narrow"),  # the longer wildcard wins although it is younger
    ("z.example.com", "wide"),
    ("example.org", None),
])
def test_sidecar_virtual_service_host_precedence(host: str, expected: str | None) -> None:
    snap = build_snapshot(resources_from_yaml(PRECEDENCE))
    vs = virtual_service_for(snap, ProxyView("sidecar", "127.0.0.2", "p", "default"), host)
    assert (vs.name if vs else None) == expected


def test_sidecar_egress_hosts_scope_virtual_services() -> None:
    text = PRECEDENCE + """
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: other}
spec: {egress: [{hosts: ["default/*"]}]}
"""
    snap = build_snapshot(resources_from_yaml(text))
    view = ProxyView("sidecar", "127.0.0.3", "p", "other")
    # `private` is older and exported to `other`, but `other` imports only namespace default's config.
    assert virtual_service_for(snap, view, "x.api.example.com").name == "exact-old"  # type: ignore[union-attr]


@pytest.mark.parametrize("root, child, merged", [
    (None, {"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/a"}}),
    ({"uri": {"prefix": "/a"}}, None, {"uri": {"prefix": "/a"}}),
    ({"uri": {"prefix": "/a"}}, {"uri": {"exact": "/a/b"}}, {"uri": {"exact": "/a/b"}}),
    ({"uri": {"prefix": "/a"}, "headers": {"x": {"exact": "1"}}}, {"headers": {"y": {"exact": "2"}}},
     {"uri": {"prefix": "/a"}, "headers": {"x": {"exact": "1"}, "y": {"exact": "2"}}}),
    ({"port": 80}, {"method": {"exact": "GET"}}, {"port": 80, "method": {"exact": "GET"}}),
])
def test_merge_match(root: dict | None, child: dict | None, merged: dict) -> None:
    assert merge_match(root, child) == merged


@pytest.mark.parametrize("root, child", [
    ({"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}),
    ({"uri": {"exact": "/a"}}, {"uri": {"exact": "/a/b"}}),
    ({"headers": {"x": {"exact": "1"}}}, {"headers": {"x": {"exact": "2"}}}),
    ({"port": 80}, {"port": 81}),
])
def test_merge_match_conflicts(root: dict, child: dict) -> None:
    with pytest.raises(MatchConflict):
        merge_match(root, child)


DELEGATION = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [app.example.com]
  http:
  - match: [{uri: {prefix: /reviews}}]
    delegate: {name: reviews-routes, namespace: team}
  - match: [{uri: {prefix: /missing}}]
    delegate: {name: nope}
  - route: [{destination: {host: fallback}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-routes, namespace: team}
spec:
  http:
  - match: [{uri: {prefix: /reviews/v2}}, {uri: {prefix: /elsewhere}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
"""


def test_expand_delegates_folds_root_match_and_qualifies_hosts() -> None:
    snap = build_snapshot(resources_from_yaml(DELEGATION))
    root = snap.by_key[next(k for k in snap.by_key if k.name == "root")]
    http = expand_delegates(snap, root).spec["http"]
    assert http == [
        # /elsewhere is outside the root's /reviews: that match is dropped.
        {"match": [{"uri": {"prefix": "/reviews/v2"}}],
         "route": [{"destination": {"host": "reviews.team.svc.cluster.local", "subset": "v2"}}]},
        {"match": [{"uri": {"prefix": "/reviews"}}],
         "route": [{"destination": {"host": "reviews.team.svc.cluster.local", "subset": "v1"}}]},
        {"route": [{"destination": {"host": "fallback"}}]},
    ]
    # The delegate alone (no hosts) never routes anything.
    assert virtual_service_for(snap, ProxyView("sidecar", "127.0.0.4", "p", "team"), "reviews") is None
