"""The security overlay on generated resources: inbound chains by PeerAuthentication mode and RBAC placement,
outbound client TLS (DestinationRule modes, auto-mTLS with Istio's SNI and SANs), endpoint tlsMode labels,
and no change at all without a CA and without policies."""

from __future__ import annotations

from pathlib import Path

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
)
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import DownstreamTlsContext, UpstreamTlsContext

from pilot.model.proxy import NodeId
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.sources.yaml_files import load_paths
from pilot.translate.generate import CLUSTER, ENDPOINT, LISTENER, generate, generate_sidecar
from pilot.translate.secure_generate import apply_security

REPO = Path(__file__).resolve().parents[3]
PRODUCTPAGE = "sidecar~127.10.0.10~productpage-v1-0.default~default.svc.cluster.local"
RATINGS = "sidecar~127.10.0.12~ratings-v1-0.default~default.svc.cluster.local"
REVIEWS = "outbound|9080||reviews.default.svc.cluster.local"
RATINGS_CLUSTER = "outbound|9080||ratings.default.svc.cluster.local"
DETAILS_V1 = "outbound|9080|v1|details.default.svc.cluster.local"


def _snapshot(extra: str = "", only_mesh: bool = False):  # type: ignore[no-untyped-def]
    bookinfo = REPO / "policies/bookinfo"
    resources, findings, _ = load_paths([bookinfo / "mesh.yaml"] if only_mesh else [bookinfo])
    assert not [f for f in findings if f.is_error]
    return build_snapshot(resources + (resources_from_yaml(extra) if extra else []))


def _secure(extra: str, node: str, mtls: bool = True, only_mesh: bool = False):  # type: ignore[no-untyped-def]
    snap = _snapshot(extra, only_mesh)
    view = snap.proxy_view(NodeId.parse(node))
    return apply_security(snap, view, generate_sidecar(snap, view), mtls=mtls)


def _unpack(any_msg, cls):  # type: ignore[no-untyped-def]
    msg = cls()
    assert any_msg.Unpack(msg)
    return msg


def _pa(name: str, spec: str) -> str:
    return f"""---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: default}}
spec: {spec}
"""


def _inbound(out, ip: str) -> Listener:  # type: ignore[no-untyped-def]
    return _unpack(out[LISTENER][f"{ip}_9080"], Listener)  # type: ignore[no-any-return]


def test_without_ca_and_policies_nothing_changes() -> None:
    snap = _snapshot()
    view = snap.proxy_view(NodeId.parse(PRODUCTPAGE))
    plain = generate_sidecar(snap, view)
    assert apply_security(snap, view, plain, mtls=False) == plain
    assert generate(snap, view) == plain


def test_strict_gives_one_mtls_chain_that_requires_a_client_certificate() -> None:
    out = _secure(_pa("ratings", "{selector: {matchLabels: {app: ratings}}, mtls: {mode: STRICT}}"), RATINGS)
    lis = _inbound(out, "127.10.0.12")
    assert [c.filter_chain_match.transport_protocol for c in lis.filter_chains] == ["tls"]
    assert [f.name for f in lis.listener_filters] == ["envoy.filters.listener.tls_inspector"]
    ctx = _unpack(lis.filter_chains[0].transport_socket.typed_config, DownstreamTlsContext)
    assert ctx.require_client_certificate.value
    assert [s.name for s in ctx.common_tls_context.tls_certificate_sds_secret_configs] == ["default"]
    assert ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name == "ROOTCA"


def test_permissive_by_default_and_disable_and_port_level_override() -> None:
    lis = _inbound(_secure("", RATINGS), "127.10.0.12")
    assert sorted(c.filter_chain_match.transport_protocol for c in lis.filter_chains) == ["raw_buffer", "tls"]
    assert len({c.name for c in lis.filter_chains}) == 2
    mesh_disable = _pa("mesh", "{mtls: {mode: DISABLE}}").replace("namespace: default", "namespace: istio-system")
    lis = _inbound(_secure(mesh_disable, RATINGS), "127.10.0.12")
    assert [c.filter_chain_match.transport_protocol for c in lis.filter_chains] == [""]
    assert not lis.filter_chains[0].HasField("transport_socket") and not lis.listener_filters
    port_strict = _pa("ratings", "{selector: {matchLabels: {app: ratings}}, mtls: {mode: DISABLE}, "
                      "portLevelMtls: {9080: {mode: STRICT}}}")
    lis = _inbound(_secure(port_strict, RATINGS), "127.10.0.12")
    assert [c.filter_chain_match.transport_protocol for c in lis.filter_chains] == ["tls"]


def test_rbac_filters_go_before_fault_cors_and_router_on_every_chain() -> None:
    ap = """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
"""
    for mtls in (True, False):
        lis = _inbound(_secure(ap, RATINGS, mtls=mtls), "127.10.0.12")
        for chain in lis.filter_chains:
            hcm = _unpack(chain.filters[0].typed_config, HttpConnectionManager)
            names = [f.name for f in hcm.http_filters]
            assert names[0] == "envoy.filters.http.rbac" and names[-1] == "envoy.filters.http.router"
    # another workload is not selected
    other = _inbound(_secure(ap, PRODUCTPAGE, mtls=False), "127.10.0.10")
    hcm = _unpack(other.filter_chains[0].filters[0].typed_config, HttpConnectionManager)
    assert "envoy.filters.http.rbac" not in [f.name for f in hcm.http_filters]


def test_auto_mtls_uses_istio_sni_sans_and_labels_meshed_endpoints() -> None:
    out = _secure("", PRODUCTPAGE)
    c = _unpack(out[CLUSTER][RATINGS_CLUSTER], Cluster)
    assert [m.name for m in c.transport_socket_matches] == ["tlsMode-istio", "tlsMode-disabled"]
    ctx = _unpack(c.transport_socket_matches[0].transport_socket.typed_config, UpstreamTlsContext)
    assert ctx.sni == "outbound_.9080_._.ratings.default.svc.cluster.local"
    sans = ctx.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names
    assert [s.matcher.exact for s in sans] == ["spiffe://cluster.local/ns/default/sa/bookinfo-ratings"]
    cla = _unpack(out[ENDPOINT][RATINGS_CLUSTER], ClusterLoadAssignment)
    md = cla.endpoints[0].lb_endpoints[0].metadata.filter_metadata["envoy.transport_socket_match"]
    assert md["tlsMode"] == "istio"
    subset = _unpack(_secure("", PRODUCTPAGE)[CLUSTER][DETAILS_V1], Cluster)
    sub_ctx = _unpack(subset.transport_socket_matches[0].transport_socket.typed_config, UpstreamTlsContext)
    assert sub_ctx.sni == "outbound_.9080_.v1_.details.default.svc.cluster.local"


def test_endpoint_whose_sidecar_disables_mtls_is_not_labelled() -> None:
    out = _secure(_pa("ratings", "{selector: {matchLabels: {app: ratings}}, mtls: {mode: DISABLE}}"), PRODUCTPAGE)
    c = _unpack(out[CLUSTER][RATINGS_CLUSTER], Cluster)
    assert not c.transport_socket_matches and not c.HasField("transport_socket")
    cla = _unpack(out[ENDPOINT][RATINGS_CLUSTER], ClusterLoadAssignment)
    assert not cla.endpoints[0].lb_endpoints[0].HasField("metadata")


def _dr(tls: str) -> str:
    return f"""---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews-tls, namespace: default}}
spec:
  host: reviews
  trafficPolicy: {{tls: {tls}}}
"""


def test_destination_rule_tls_modes() -> None:
    simple = _dr("{mode: SIMPLE, sni: reviews.example, caCertificates: /etc/ca.pem}")
    out = _secure(simple, PRODUCTPAGE, mtls=False, only_mesh=True)
    c = _unpack(out[CLUSTER][REVIEWS], Cluster)
    ctx = _unpack(c.transport_socket.typed_config, UpstreamTlsContext)
    assert ctx.sni == "reviews.example" and not ctx.common_tls_context.tls_certificate_sds_secret_configs
    out = _secure(_dr("{mode: ISTIO_MUTUAL}"), PRODUCTPAGE, only_mesh=True)
    ctx = _unpack(_unpack(out[CLUSTER][REVIEWS], Cluster).transport_socket.typed_config, UpstreamTlsContext)
    assert ctx.sni == "outbound_.9080_._.reviews.default.svc.cluster.local"
    assert [s.name for s in ctx.common_tls_context.tls_certificate_sds_secret_configs] == ["default"]
    out = _secure(_dr("{mode: DISABLE}"), PRODUCTPAGE, only_mesh=True)
    c = _unpack(out[CLUSTER][REVIEWS], Cluster)
    assert not c.HasField("transport_socket") and not c.transport_socket_matches
    # ISTIO_MUTUAL needs the mesh CA: without one the cluster stays plaintext rather than waiting on SDS
    out = _secure(_dr("{mode: ISTIO_MUTUAL}"), PRODUCTPAGE, mtls=False, only_mesh=True)
    assert not _unpack(out[CLUSTER][REVIEWS], Cluster).HasField("transport_socket")


def test_tcp_inbound_gets_network_rbac_before_tcp_proxy_and_permissive_tcp_chains() -> None:
    extra = """---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ratings-tcp, namespace: default}
spec:
  workloadSelector: {labels: {app: ratings}}
  ingress:
  - port: {number: 9080, protocol: TCP, name: tcp}
    defaultEndpoint: 0.0.0.0:8080
    captureMode: NONE
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ip, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  action: DENY
  rules: [{from: [{source: {ipBlocks: [10.0.0.1]}}]}]
"""
    snap = _snapshot(extra, only_mesh=True)
    snap = build_snapshot([r for r in snap.resources if not (r.kind == "Sidecar" and r.name == "ratings-v1-0")])
    view = snap.proxy_view(NodeId.parse(RATINGS))
    lis = _unpack(apply_security(snap, view, generate_sidecar(snap, view), mtls=True)[LISTENER]["127.10.0.12_9080"],
                  Listener)
    assert sorted(c.filter_chain_match.transport_protocol for c in lis.filter_chains) == ["raw_buffer", "tls", "tls"]
    for chain in lis.filter_chains:
        assert [f.name for f in chain.filters] == ["envoy.filters.network.rbac", "envoy.filters.network.tcp_proxy"]
