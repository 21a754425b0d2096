"""Client auto-mTLS and server filter chains (STRICT / PERMISSIVE / DISABLE) built by pilot/translate/tls.py:
which chain the simulator picks, whether the server sees the client's SPIFFE id, and RBAC on it.
"""

from __future__ import annotations

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.listener.v3.listener_components_pb2 import Filter

from pilot.model.resource import resource_from_document
from pilot.simulate.config import ProxyConfig
from pilot.simulate.inbound import evaluate_destination
from pilot.simulate.request import Request
from pilot.simulate.upstream import cluster_endpoints
from pilot.translate.listeners import HCM_NAME, http_connection_manager, inbound_route_config
from pilot.translate.pb import pack, socket_address
from pilot.translate.rbac import build_http_rbac_filters
from pilot.translate.tls import auto_mtls_transport_socket_matches, endpoint_tls_metadata, inbound_filter_chains

CLIENT = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
ALLOW_PRODUCTPAGE = resource_from_document({
    "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
    "metadata": {"name": "allow-pp", "namespace": "default"},
    "spec": {"rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/bookinfo-productpage"]}}]}]}})


def client_config(meshed_endpoint: bool) -> ProxyConfig:
    name = "outbound|9080||reviews.default.svc.cluster.local"
    cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
    cluster.transport_socket_matches.extend(auto_mtls_transport_socket_matches(
        "outbound_.9080_._.reviews.default.svc.cluster.local", [CLIENT]))
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    lb = cla.endpoints.add().lb_endpoints.add()
    lb.endpoint.address.CopyFrom(socket_address("10.0.0.9", 9080))
    if meshed_endpoint:
        lb.metadata.CopyFrom(endpoint_tls_metadata())
    return ProxyConfig(clusters={name: cluster}, endpoints={name: cla})


def server_config(mode: str) -> ProxyConfig:
    def filters(_mtls: bool) -> list[Filter]:
        rbac = build_http_rbac_filters({"ALLOW": [ALLOW_PRODUCTPAGE]})
        m = http_connection_manager("inbound_0.0.0.0_9080", route_config=inbound_route_config(9080),
                                    extra_filters=rbac)
        return [Filter(name=HCM_NAME, typed_config=pack(m))]

    lis = listener_pb2.Listener(name="10.0.0.9_9080", address=socket_address("10.0.0.9", 9080))
    lis.traffic_direction = 1
    chains = inbound_filter_chains(mode, True, filters, name="0.0.0.0_9080")
    lis.filter_chains.extend(chains.filter_chains)
    lis.listener_filters.extend(chains.listener_filters)
    return ProxyConfig(listeners={lis.name: lis})


@pytest.mark.parametrize(("mode", "meshed", "allowed", "principal", "error"), [
    ("STRICT", True, True, CLIENT, ""),
    ("STRICT", False, False, "", "no filter chain"),  # plaintext into STRICT: reset
    ("PERMISSIVE", True, True, CLIENT, ""),
    ("PERMISSIVE", False, False, "", ""),  # plaintext accepted, but no identity for the ALLOW rule
    ("DISABLE", False, False, "", ""),
])
def test_mtls_modes(mode: str, meshed: bool, allowed: bool, principal: str, error: str) -> None:
    client = client_config(meshed)
    (ep,) = cluster_endpoints(client, next(iter(client.clusters.values())))
    assert (ep.tls is not None) is meshed
    dest = evaluate_destination(server_config(mode), "reviews-v1-0.default", ep,
                                Request.from_url("http://reviews:9080/"), "10.0.0.1", CLIENT)
    assert (dest.allowed, dest.principal) == (allowed, principal), dest
    assert error in dest.error if error else dest.error == ""
    if allowed:
        assert dest.cluster == "inbound|9080||" and "allow-pp" in dest.policy
