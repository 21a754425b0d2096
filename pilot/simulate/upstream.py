"""Cluster -> endpoints (from the generated EDS, or the cluster's own load assignment), and how the
client sidecar talks to each: the transport socket Envoy would pick (`transport_socket_matches` against
the endpoint's `envoy.transport_socket_match` metadata, else the cluster's transport socket).
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto#envoy-v3-api-msg-config-cluster-v3-cluster-transportsocketmatch
"""

from __future__ import annotations

from dataclasses import dataclass

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2 as ec
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf.json_format import MessageToDict

from pilot.simulate.config import ProxyConfig

SOCKET_MATCH = "envoy.transport_socket_match"
_HEALTHY = (health_check_pb2.UNKNOWN, health_check_pb2.HEALTHY, health_check_pb2.DEGRADED)


@dataclass(frozen=True)
class UpstreamTls:
    sni: str = ""
    alpn: tuple[str, ...] = ()
    client_cert: bool = False  # presents a certificate (Istio mTLS)


@dataclass(frozen=True)
class LbEndpoint:
    address: str
    port: int
    healthy: bool
    tls: UpstreamTls | None


def _socket_for(cluster: cluster_pb2.Cluster, metadata: base_pb2.Metadata) -> base_pb2.TransportSocket | None:
    struct = metadata.filter_metadata.get(SOCKET_MATCH)
    labels = MessageToDict(struct) if struct is not None else {}
    for m in cluster.transport_socket_matches:
        criteria = MessageToDict(m.match)
        if all(labels.get(k) == v for k, v in criteria.items()):
            return m.transport_socket
    return cluster.transport_socket if cluster.HasField("transport_socket") else None


def upstream_tls(cluster: cluster_pb2.Cluster, metadata: base_pb2.Metadata) -> UpstreamTls | None:
    socket = _socket_for(cluster, metadata)
    if socket is None or not socket.typed_config.Is(tls_pb2.UpstreamTlsContext.DESCRIPTOR):
        return None
    ctx = tls_pb2.UpstreamTlsContext()
    socket.typed_config.Unpack(ctx)
    common = ctx.common_tls_context
    has_cert = bool(common.tls_certificates or common.tls_certificate_sds_secret_configs)
    return UpstreamTls(sni=ctx.sni, alpn=tuple(common.alpn_protocols), client_cert=has_cert)


def _lb_endpoint(cluster: cluster_pb2.Cluster, lb: ec.LbEndpoint) -> LbEndpoint:
    sa = lb.endpoint.address.socket_address
    return LbEndpoint(sa.address, sa.port_value, lb.health_status in _HEALTHY, upstream_tls(cluster, lb.metadata))


def cluster_endpoints(cfg: ProxyConfig, cluster: cluster_pb2.Cluster) -> list[LbEndpoint]:
    cla = cfg.load_assignment(cluster)
    if cla is None:
        return []
    return [_lb_endpoint(cluster, lb) for loc in cla.endpoints for lb in loc.lb_endpoints]
