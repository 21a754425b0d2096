from __future__ import annotations

import pytest

from pilot.model.proxy import NodeId, NodeIdError
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml

MESH = """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: default, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: bookinfo-reviews}
status: {podIP: 127.10.0.21}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: default, labels: {app: other}}
status: {podIP: 127.10.0.22}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: default, labels: {app: reviews}}
"""


def test_node_id_round_trip() -> None:
    n = NodeId.parse("sidecar~127.10.0.21~reviews-v1-0.default~default.svc.cluster.local")
    assert (n.type, n.ip, n.pod, n.namespace) == ("sidecar", "127.10.0.21", "reviews-v1-0", "default")
    assert str(n) == "sidecar~127.10.0.21~reviews-v1-0.default~default.svc.cluster.local"


@pytest.mark.parametrize("bad", ["", "sidecar~1.2.3.4~pod", "foo~1.2.3.4~p.ns~ns.svc.cluster.local",
                                 "sidecar~1.2.3.4~podnons~x"])
def test_node_id_rejects_malformed(bad: str) -> None:
    with pytest.raises(NodeIdError):
        NodeId.parse(bad)


def test_endpoints_come_from_pods_matching_the_selector() -> None:
    snap = build_snapshot(resources_from_yaml(MESH))
    eps = snap.service_endpoints("reviews.default.svc.cluster.local", 9080)
    assert [(e.address, e.port, e.service_account) for e in eps] == [("127.10.0.21", 9080, "bookinfo-reviews")]


def test_endpoint_slices_win_over_pods() -> None:
    slice_doc = """
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-abc, namespace: default, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
- addresses: [127.10.0.99]
  conditions: {ready: true}
"""
    snap = build_snapshot(resources_from_yaml(MESH + "---" + slice_doc))
    eps = snap.service_endpoints("reviews.default.svc.cluster.local", 9080)
    assert [e.address for e in eps] == ["127.10.0.99"]


def test_proxy_identity_comes_from_the_registry_not_the_proxy() -> None:
    snap = build_snapshot(resources_from_yaml(MESH))
    # The proxy claims to be "reviews-v1-0" but its IP belongs to pod "other".
    view = snap.proxy_view(NodeId.parse("sidecar~127.10.0.22~reviews-v1-0.default~default.svc.cluster.local"))
    assert view.name == "other" and dict(view.labels) == {"app": "other"}
    unknown = snap.proxy_view(NodeId.parse("sidecar~127.10.0.50~x.default~default.svc.cluster.local"))
    assert not unknown.known and unknown.labels == ()


def test_snapshot_version_is_a_content_hash() -> None:
    a = build_snapshot(resources_from_yaml(MESH))
    b = build_snapshot(list(reversed(resources_from_yaml(MESH))))
    assert a.version == b.version
    c = build_snapshot(resources_from_yaml(MESH.replace("127.10.0.21", "127.10.0.23")))
    assert c.version != a.version
