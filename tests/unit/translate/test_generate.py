from __future__ import annotations

from pathlib import Path

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2

from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.yaml_files import load_paths
from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.translate.generate import CLUSTER, ENDPOINT, LISTENER, ROUTE, generate

REPO = Path(__file__).resolve().parents[3]
PRODUCTPAGE = "sidecar~127.10.0.10~productpage-v1-0.default~default.svc.cluster.local"


def _bookinfo():  # type: ignore[no-untyped-def]
    resources, findings, _ = load_paths([REPO / "policies/bookinfo"])
    assert not [f for f in findings if f.is_error]
    snap = build_snapshot(resources)
    return snap, snap.proxy_view(NodeId.parse(PRODUCTPAGE))


def _unpack(any_msg, cls):  # type: ignore[no-untyped-def]
    msg = cls()
    assert any_msg.Unpack(msg)
    return msg


def test_bundled_mesh_matches_the_loopback_layout() -> None:
    text = (REPO / "policies/bookinfo/mesh.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert body.strip() == LoopbackMesh.build(BOOKINFO, block=(127, 10, 0)).yaml().strip()


def test_istio_names_for_clusters_listeners_and_routes() -> None:
    snap, view = _bookinfo()
    out = generate(snap, view)
    assert "outbound|9080||reviews.default.svc.cluster.local" in out[CLUSTER]
    assert "outbound|9080|v2|reviews.default.svc.cluster.local" in out[CLUSTER]
    assert "inbound|9080||" in out[CLUSTER]
    assert set(out[LISTENER]) == {"127.10.0.10_9080", "127.10.1.10_9080"}
    assert set(out[ROUTE]) == {"9080"}
    c = _unpack(out[CLUSTER]["outbound|9080|v1|reviews.default.svc.cluster.local"], cluster_pb2.Cluster)
    assert c.type == cluster_pb2.Cluster.EDS and c.lb_policy == cluster_pb2.Cluster.LEAST_REQUEST
    inbound = _unpack(out[CLUSTER]["inbound|9080||"], cluster_pb2.Cluster)
    sa = inbound.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (sa.address, sa.port_value) == ("127.10.0.10", 8080)
    lis = _unpack(out[LISTENER]["127.10.1.10_9080"], listener_pb2.Listener)
    assert lis.address.socket_address.address == "127.10.1.10"


def test_subset_endpoints_are_filtered_by_labels() -> None:
    snap, view = _bookinfo()
    out = generate(snap, view)
    v2 = _unpack(out[ENDPOINT]["outbound|9080|v2|reviews.default.svc.cluster.local"],
                 endpoint_pb2.ClusterLoadAssignment)
    assert [e.endpoint.address.socket_address.address for e in v2.endpoints[0].lb_endpoints] == ["127.10.0.14"]
    every = _unpack(out[ENDPOINT]["outbound|9080||reviews.default.svc.cluster.local"],
                    endpoint_pb2.ClusterLoadAssignment)
    assert len(every.endpoints[0].lb_endpoints) == 3


def test_virtual_service_header_match_and_weights() -> None:
    snap, view = _bookinfo()
    rc = _unpack(generate(snap, view)[ROUTE]["9080"], route_pb2.RouteConfiguration)
    vh = next(v for v in rc.virtual_hosts if v.name == "reviews.default.svc.cluster.local:9080")
    assert {"reviews", "reviews:9080", "reviews.default", "reviews.default.svc.cluster.local"} <= set(vh.domains)
    first, second = vh.routes
    assert first.match.headers[0].name == "end-user"
    assert first.match.headers[0].string_match.exact == "jason"
    assert first.route.cluster == "outbound|9080|v2|reviews.default.svc.cluster.local"
    weights = {c.name.split("|")[2]: c.weight.value for c in second.route.weighted_clusters.clusters}
    assert weights == {"v1": 80, "v2": 20}
    assert second.route.retry_policy.num_retries.value == 2  # Istio's default retry policy
    details = next(v for v in rc.virtual_hosts if v.name.startswith("details."))
    assert details.routes[0].name == "default"
    assert details.routes[0].route.cluster == "outbound|9080||details.default.svc.cluster.local"


def test_translation_is_deterministic_byte_for_byte() -> None:
    snap, view = _bookinfo()
    a = generate(snap, view)
    snap2, view2 = _bookinfo()
    b = generate(snap2, view2)
    for t in (CLUSTER, ENDPOINT, LISTENER, ROUTE):
        assert {n: x.SerializeToString(deterministic=True) for n, x in a[t].items()} == \
               {n: x.SerializeToString(deterministic=True) for n, x in b[t].items()}
