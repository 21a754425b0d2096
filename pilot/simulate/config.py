"""A proxy's generated xDS, decoded, and Envoy's listener / filter-chain selection over it.

Filter chain matching follows Envoy's sieve: destination port, destination IP (longest prefix), server
name, transport protocol, application protocols; at each step a chain that leaves the field unset only
survives when no chain names the value.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener_components.proto#config-listener-v3-filterchainmatch
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2

from pilot.translate.generate import CLUSTER, ENDPOINT, LISTENER, ROUTE

INBOUND, OUTBOUND = 1, 2  # envoy.config.core.v3.TrafficDirection


@dataclass
class ProxyConfig:
    """Decoded resources of one proxy, by name."""

    listeners: dict[str, listener_pb2.Listener] = field(default_factory=dict)
    routes: dict[str, route_pb2.RouteConfiguration] = field(default_factory=dict)
    clusters: dict[str, cluster_pb2.Cluster] = field(default_factory=dict)
    endpoints: dict[str, endpoint_pb2.ClusterLoadAssignment] = field(default_factory=dict)

    @classmethod
    def from_resources(cls, resources: Mapping[str, Mapping[str, any_pb2.Any]]) -> ProxyConfig:
        def decode(type_url: str, make: Callable[[], Any]) -> dict[str, Any]:
            out = {}
            for name, packed in (resources.get(type_url) or {}).items():
                msg = make()
                packed.Unpack(msg)
                out[name] = msg
            return out

        return cls(listeners=decode(LISTENER, listener_pb2.Listener),
                   routes=decode(ROUTE, route_pb2.RouteConfiguration),
                   clusters=decode(CLUSTER, cluster_pb2.Cluster),
                   endpoints=decode(ENDPOINT, endpoint_pb2.ClusterLoadAssignment))

    def load_assignment(self, cluster: cluster_pb2.Cluster) -> endpoint_pb2.ClusterLoadAssignment | None:
        if cluster.HasField("load_assignment"):
            return cluster.load_assignment
        return self.endpoints.get(cluster.eds_cluster_config.service_name or cluster.name)


def listener_address(lis: listener_pb2.Listener) -> tuple[str, int]:
    sa = lis.address.socket_address
    return sa.address, sa.port_value


def outbound_listeners(cfg: ProxyConfig, port: int, own_ip: str) -> list[listener_pb2.Listener]:
    """Listeners an app could call for `port`: outbound ones, or undirected ones not on the pod IP."""
    out = []
    for name in sorted(cfg.listeners):
        lis = cfg.listeners[name]
        addr, lport = listener_address(lis)
        if lport != port:
            continue
        if lis.traffic_direction == OUTBOUND or (lis.traffic_direction != INBOUND and addr != own_ip):
            out.append(lis)
    return out


def inbound_listener(cfg: ProxyConfig, ip: str, port: int) -> listener_pb2.Listener | None:
    exact = wildcard = None
    for name in sorted(cfg.listeners):
        lis = cfg.listeners[name]
        if lis.traffic_direction == OUTBOUND:
            continue
        addr, lport = listener_address(lis)
        if lport != port:
            continue
        if addr == ip:
            exact = exact or lis
        elif addr in ("0.0.0.0", "::"):
            wildcard = wildcard or lis
    return exact or wildcard


@dataclass(frozen=True)
class Connection:
    """What a filter chain can be chosen by."""

    destination_ip: str
    destination_port: int
    transport: str = "raw_buffer"  # "tls" when the client speaks TLS
    server_name: str = ""
    alpn: tuple[str, ...] = ()


def _prefix_len(m: lc.FilterChainMatch, ip: str) -> int:
    """-1 when the chain has no prefix ranges; -2 when it has some and none contain `ip`."""
    if not m.prefix_ranges:
        return -1
    best = -2
    for cidr in m.prefix_ranges:
        try:
            net = ipaddress.ip_network(f"{cidr.address_prefix}/{cidr.prefix_len.value}", strict=False)
            if ipaddress.ip_address(ip) in net:
                best = max(best, cidr.prefix_len.value)
        except ValueError:
            continue
    return best


def _sieve(chains: list[lc.FilterChain], score: Callable[[lc.FilterChainMatch], int | None]
           ) -> list[lc.FilterChain]:
    """Keep the chains with the best specific score; unset (None) survives only if nothing scored."""
    scored = [(score(c.filter_chain_match), c) for c in chains]
    specific = [(s, c) for s, c in scored if s is not None and s >= 0]
    if specific:
        top = max(s for s, _ in specific)
        return [c for s, c in specific if s == top]
    return [c for s, c in scored if s is None]


def _server_name_score(m: lc.FilterChainMatch, sni: str) -> int | None:
    if not m.server_names:
        return None
    best = -1
    for name in m.server_names:
        if name == sni:
            best = max(best, 1000)
        elif name.startswith("*.") and sni.endswith(name[1:]):
            best = max(best, len(name))
    return best


def select_filter_chain(lis: listener_pb2.Listener, conn: Connection) -> lc.FilterChain | None:
    chains = list(lis.filter_chains)
    chains = _sieve(chains, lambda m: (0 if m.destination_port.value == conn.destination_port else -1)
                    if m.HasField("destination_port") else None)
    chains = _sieve(chains, lambda m: None if (p := _prefix_len(m, conn.destination_ip)) == -1 else p)
    chains = _sieve(chains, lambda m: _server_name_score(m, conn.server_name))
    chains = _sieve(chains, lambda m: (0 if m.transport_protocol == conn.transport else -1)
                    if m.transport_protocol else None)
    chains = _sieve(chains, lambda m: (0 if set(m.application_protocols) & set(conn.alpn) else -1)
                    if m.application_protocols else None)
    if chains:
        return chains[0]
    return lis.default_filter_chain if lis.HasField("default_filter_chain") else None
