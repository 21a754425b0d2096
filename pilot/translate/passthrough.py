"""Where a captured sidecar sends traffic no service claims: Istio's passthrough and blackhole.

- Outbound, `outboundTrafficPolicy` ALLOW_ANY (the default) -> `PassthroughCluster`, an ORIGINAL_DST
  cluster that connects to wherever the app was going; REGISTRY_ONLY -> `BlackHoleCluster` (no hosts,
  the connection is closed). A Sidecar's `outboundTrafficPolicy` overrides the mesh's.
- Inbound, a port no service or Sidecar ingress declares -> `InboundPassthroughCluster`, ORIGINAL_DST
  from the source address 127.0.0.6, which istio-init's `-s 127.0.0.6/32 -o lo -j RETURN` lets through
  instead of redirecting it back to 15006.
https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/#MeshConfig-OutboundTrafficPolicy-Mode
https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/original_dst
"""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2
from envoy.config.listener.v3 import listener_components_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.pb import duration, pack

INBOUND_PASSTHROUGH = "InboundPassthroughCluster"
# Istio's InboundPassthroughBindIpv4: upstream connections to the app leave from here, so iptables
# tells them from the proxy's own outbound traffic.
INBOUND_PASSTHROUGH_BIND = "127.0.0.6"
TCP_PROXY = "envoy.filters.network.tcp_proxy"
# ORIGINAL_DST inbound clusters keep their hosts for as long as Envoy runs: the longest duration Envoy
# accepts (int64 nanoseconds, ~292 years), as Istio sets it.
_NEVER_CLEAN_UP_S = (2**63 - 1 - 999_999_999) // 1_000_000_000


def outbound_policy(snapshot: MeshSnapshot, sidecar: Resource | None) -> str:
    """ALLOW_ANY or REGISTRY_ONLY: the Sidecar's `outboundTrafficPolicy.mode`, else the mesh's."""
    mode = ((sidecar.spec.get("outboundTrafficPolicy") or {}).get("mode") if sidecar is not None else None)
    return str(mode or snapshot.mesh.outbound_traffic_policy).upper()


def catch_all_cluster(snapshot: MeshSnapshot, sidecar: Resource | None) -> str:
    return names.BLACKHOLE if outbound_policy(snapshot, sidecar) == "REGISTRY_ONLY" else names.PASSTHROUGH


def tcp_proxy_filter(cluster: str) -> listener_components_pb2.Filter:
    return listener_components_pb2.Filter(name=TCP_PROXY, typed_config=pack(
        tcp_proxy_pb2.TcpProxy(stat_prefix=cluster, cluster=cluster)))


def original_dst_cluster(name: str, connect_timeout_s: float, bind: str = "") -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.ORIGINAL_DST,
                            lb_policy=cluster_pb2.Cluster.CLUSTER_PROVIDED,
                            connect_timeout=duration(connect_timeout_s))
    if bind:
        c.upstream_bind_config.source_address.CopyFrom(address_pb2.SocketAddress(address=bind, port_value=0))
    return c


def passthrough_clusters(snapshot: MeshSnapshot) -> list[cluster_pb2.Cluster]:
    """The two catch-all clusters every captured sidecar gets (BlackHoleCluster it already has)."""
    timeout = snapshot.mesh.connect_timeout_s
    return [original_dst_cluster(names.PASSTHROUGH, timeout),
            original_dst_cluster(INBOUND_PASSTHROUGH, timeout, INBOUND_PASSTHROUGH_BIND)]


def inbound_original_dst_cluster(port: int, connect_timeout_s: float) -> cluster_pb2.Cluster:
    """`inbound|<port>||` as istiod builds it under the default inboundTrafficPolicy PASSTHROUGH: to the
    pod IP and port the connection was for (the app must listen on the pod IP or 0.0.0.0)."""
    c = original_dst_cluster(names.inbound_cluster(port), connect_timeout_s, INBOUND_PASSTHROUGH_BIND)
    c.cleanup_interval.seconds = _NEVER_CLEAN_UP_S
    return c
