"""Outbound listeners of a captured sidecar: `virtualOutbound` on 0.0.0.0:15001 and one listener per
destination that it hands connections to.

istio-init's iptables send every outbound connection of the pod to 15001. `use_original_dst` makes
Envoy hand the connection to the listener bound (`bind_to_port: false`) to the address the app
dialled: first an exact `<VIP>_<port>`, then the wildcard `0.0.0.0_<port>`; when none matches, the
virtual listener's own chains take it (passthrough or blackhole, see passthrough.py). As istiod does:
- HTTP ports: `0.0.0.0_<port>` with RDS named after the port ("9080"), routing by Host header, so a
  service without a ClusterIP is reachable by name too;
- TCP services: `<ClusterIP>_<port>` with tcp_proxy (VirtualService `tcp` routes apply); without a
  VIP, `0.0.0.0_<port>` for the first such service when no HTTP service claims the port;
- TLS/HTTPS ports: `0.0.0.0_<port>` routing by SNI, unknown SNI to the passthrough chain.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto#envoy-v3-api-field-config-listener-v3-listener-use-original-dst
"""

from __future__ import annotations

from envoy.config.listener.v3 import listener_pb2
from google.protobuf import any_pb2

from pilot.model.proxy import ProxyView
from pilot.model.registry import Service
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.listeners import outbound_listener
from pilot.translate.passthrough import tcp_proxy_filter
from pilot.translate.pb import pack, socket_address, u32
from pilot.translate.shared import outbound_scope, shared
from pilot.translate.tcp_routes import outbound_tcp_listener, outbound_tls_listener

VIRTUAL_OUTBOUND = "virtualOutbound"
VIRTUAL_OUTBOUND_BLACKHOLE = "virtualOutbound-blackhole"
VIRTUAL_OUTBOUND_CATCH_ALL = "virtualOutbound-catchall-tcp"
PASSTHROUGH_CHAIN = "PassthroughFilterChain"
OUTBOUND_CAPTURE_PORT = 15001
WILDCARD = "0.0.0.0"
_TLS = ("TLS", "HTTPS")


def virtual_outbound_listener(view: ProxyView, catch_all: str,
                              port: int = OUTBOUND_CAPTURE_PORT) -> listener_pb2.Listener:
    """`port`: the mesh's proxyListenPort, where iptables redirect outbound connections."""
    lis = listener_pb2.Listener(name=VIRTUAL_OUTBOUND, address=socket_address(WILDCARD, port))
    lis.traffic_direction = 2  # OUTBOUND
    lis.use_original_dst.value = True
    if view.interception == "TPROXY":
        lis.transparent.value = True
    # A connection dialled to 15001 itself would come straight back here: refuse it.
    blackhole = lis.filter_chains.add(name=VIRTUAL_OUTBOUND_BLACKHOLE)
    blackhole.filter_chain_match.destination_port.CopyFrom(u32(port))
    blackhole.filters.append(tcp_proxy_filter(names.BLACKHOLE))
    lis.filter_chains.add(name=VIRTUAL_OUTBOUND_CATCH_ALL).filters.append(tcp_proxy_filter(catch_all))
    return lis


def http_ports(services: list[Service]) -> list[int]:
    """The ports that get an HTTP listener (and an RDS route configuration named after the port)."""
    return sorted({sp.port for svc in services for sp in svc.ports if sp.is_http})


def service_vips(svc: Service) -> list[str]:
    """Addresses a TCP service is told apart by: the ClusterIP, or a ServiceEntry's plain addresses."""
    if svc.cluster_ip:
        return [svc.cluster_ip]
    return [a for a in svc.addresses if "/" not in a]


def port_listeners(snapshot: MeshSnapshot, view: ProxyView, services: list[Service], sidecar: Resource | None,
                   catch_all: str) -> dict[str, any_pb2.Any]:
    """The per-destination listeners, shared by proxies with the same outbound scope."""
    key = ("lds-captured", catch_all, *outbound_scope(snapshot, view, sidecar))
    return shared(snapshot, key, lambda: _port_listeners(snapshot, view, services, sidecar, catch_all))


def _port_listeners(snapshot: MeshSnapshot, view: ProxyView, services: list[Service], sidecar: Resource | None,
                    catch_all: str) -> dict[str, any_pb2.Any]:
    out: dict[str, listener_pb2.Listener] = {}
    taken = set(http_ports(services))
    for port in sorted(taken):
        out[names.listener_name(WILDCARD, port)] = outbound_listener(WILDCARD, port, "HTTP")
    tls_ports = sorted({sp.port for s in services for sp in s.ports if sp.protocol.upper() in _TLS} - taken)
    for port in tls_ports:
        lis = outbound_tls_listener(snapshot, view, WILDCARD, port, services, sidecar)
        lis.default_filter_chain.name = PASSTHROUGH_CHAIN
        lis.default_filter_chain.filters.append(tcp_proxy_filter(catch_all))
        out[lis.name] = lis
    taken.update(tls_ports)
    for svc in services:
        for sp in svc.ports:
            if sp.is_http or sp.protocol.upper() in _TLS:
                continue
            binds = service_vips(svc) or ([WILDCARD] if sp.port not in taken else [])
            for bind in binds:
                name = names.listener_name(bind, sp.port)
                if name not in out:
                    out[name] = outbound_tcp_listener(snapshot, view, bind, sp.port, [svc], sidecar)
            taken.update([sp.port] if binds == [WILDCARD] else [])
    for lis in out.values():
        lis.bind_to_port.value = False
    return {name: pack(out[name]) for name in sorted(out)}
