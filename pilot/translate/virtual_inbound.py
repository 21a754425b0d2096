"""`virtualInbound` on 0.0.0.0:15006: where istio-init's iptables send every connection to the pod.

The `original_dst` listener filter restores the address the client dialled (podIP:port), and filter
chains pick by that destination port, as istiod's listener_inbound.go builds them:
- `virtualInbound-blackhole` (destination port 15006 itself, so a connection cannot loop),
- `virtualInbound`: any other port -> InboundPassthroughCluster,
- `0.0.0.0_<port>` per inbound port -> `inbound|<port>||` (HTTP: connection manager with the inline
  inbound route, as the loopback inbound listeners carry; TCP: tcp_proxy).
Security (RBAC, PeerAuthentication chains) is added afterwards by inbound_security.py, chain by chain.

The inbound ports are the Sidecar's `ingress` entries when it has any, else the target ports of the
Services whose endpoints are this pod (Istio's service instances).
https://istio.io/latest/docs/ops/deployment/application-requirements/#ports-used-by-istio
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.listener.original_dst.v3 import original_dst_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.listeners import HCM_NAME, http_connection_manager, inbound_route_config, network_filter
from pilot.translate.passthrough import INBOUND_PASSTHROUGH, TCP_PROXY, tcp_proxy_filter
from pilot.translate.pb import pack, socket_address, u32
from pilot.translate.shared import shared

VIRTUAL_INBOUND = "virtualInbound"
VIRTUAL_INBOUND_BLACKHOLE = "virtualInbound-blackhole"
INBOUND_CAPTURE_PORT = 15006
ORIGINAL_DST_FILTER = "envoy.filters.listener.original_dst"
_TCP_PROTOCOLS = ("TCP", "TLS", "MONGO", "MYSQL", "REDIS")


@dataclass(frozen=True)
class InboundPort:
    port: int
    http: bool
    endpoint: str = ""  # Sidecar ingress defaultEndpoint; "" = ORIGINAL_DST to the pod IP and port
    bound: bool = False  # Sidecar ingress with captureMode NONE: its own listener on podIP:port


def inbound_ports(snapshot: MeshSnapshot, view: ProxyView, sidecar: Resource | None) -> list[InboundPort]:
    entries = [i for i in (sidecar.spec.get("ingress") or []) if (i.get("port") or {}).get("number")] \
        if sidecar is not None else []
    if entries:
        return [_from_ingress(i) for i in entries]
    return list(_instances_by_ip(snapshot).get((view.namespace, view.ip), ()))


def _from_ingress(entry: dict) -> InboundPort:
    port = entry.get("port") or {}
    protocol = str(port.get("protocol", "HTTP")).upper()
    endpoint = str(entry.get("defaultEndpoint") or "")
    return InboundPort(int(port["number"]), protocol not in _TCP_PROTOCOLS,
                       "" if endpoint.startswith("unix://") else endpoint,
                       str(entry.get("captureMode", "")).upper() == "NONE")


def _instances_by_ip(snapshot: MeshSnapshot) -> dict[tuple[str, str], tuple[InboundPort, ...]]:
    """(namespace, pod IP) -> its inbound ports: each target port once, the first service (by hostname)
    deciding the protocol, as istiod lets the first service instance win."""

    def build() -> dict[tuple[str, str], tuple[InboundPort, ...]]:
        out: dict[tuple[str, str], dict[int, InboundPort]] = {}
        for svc in sorted(snapshot.services.values(), key=lambda s: s.hostname):
            for sp in svc.ports:
                for ep in snapshot.service_endpoints(svc.hostname, sp.port):
                    ports = out.setdefault((ep.namespace or svc.namespace, ep.address), {})
                    ports.setdefault(ep.port, InboundPort(ep.port, sp.is_http))
        return {key: tuple(sorted(ports.values(), key=lambda p: p.port)) for key, ports in out.items()}

    return shared(snapshot, ("inbound-instances-by-ip",), build)


def virtual_inbound_listener(view: ProxyView, ports: Sequence[InboundPort],
                             port: int = INBOUND_CAPTURE_PORT) -> listener_pb2.Listener:
    """`port`: the mesh's proxyInboundListenPort, where iptables redirect inbound connections."""
    lis = listener_pb2.Listener(name=VIRTUAL_INBOUND, address=socket_address("0.0.0.0", port))
    lis.traffic_direction = 1  # INBOUND
    if view.interception == "TPROXY":
        lis.transparent.value = True
    lis.listener_filters.add(name=ORIGINAL_DST_FILTER, typed_config=pack(original_dst_pb2.OriginalDst()))
    blackhole = lis.filter_chains.add(name=VIRTUAL_INBOUND_BLACKHOLE)
    blackhole.filter_chain_match.destination_port.CopyFrom(u32(port))
    blackhole.filters.append(tcp_proxy_filter(names.BLACKHOLE))
    lis.filter_chains.add(name=VIRTUAL_INBOUND).filters.append(tcp_proxy_filter(INBOUND_PASSTHROUGH))
    for p in ports:
        if not p.bound:
            lis.filter_chains.append(inbound_chain(p))
    return lis


def inbound_chain(p: InboundPort) -> listener_components_pb2.FilterChain:
    chain = listener_components_pb2.FilterChain(name=names.listener_name("0.0.0.0", p.port))
    chain.filter_chain_match.destination_port.CopyFrom(u32(p.port))
    cluster = names.inbound_cluster(p.port)
    if p.http:
        chain.filters.append(network_filter(HCM_NAME, http_connection_manager(
            f"inbound_0.0.0.0_{p.port}", route_config=inbound_route_config(p.port))))
    else:
        chain.filters.append(network_filter(TCP_PROXY, tcp_proxy_pb2.TcpProxy(stat_prefix=cluster, cluster=cluster)))
    return chain


def is_blackhole(chain: listener_components_pb2.FilterChain) -> bool:
    return chain.name == VIRTUAL_INBOUND_BLACKHOLE
