"""Ingress gateway (router) listeners and routes from Gateway servers and the VirtualServices bound to them.

Names follow istiod (istio-reference.md §2): one listener per port `0.0.0.0_<port>` (`<bind>_<port>`
when the server sets `bind`), RDS `http.<port>` for plain HTTP servers and
`https.<port>.<portName>.<gateway>.<namespace>` for each HTTPS server terminated here (both suffixed
`.<bind>` when the server sets one, as istiod's gatewayRDSRouteName does). On loopback the
listener binds the gateway pod's IP (or the server's `bind`).
https://istio.io/latest/docs/reference/config/networking/gateway/
"""

from __future__ import annotations

from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2

from pilot.model.delegate import expand_delegates
from pilot.model.gateway import GatewayServer, gateway_virtual_services, hosts_on_server, servers_by_listener
from pilot.model.proxy import ProxyView
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.gateway_secrets import downstream_tls_context, gateway_secrets
from pilot.translate.listeners import HCM_NAME, http_connection_manager, network_filter
from pilot.translate.pb import pack, socket_address
from pilot.translate.route_actions import allow_large_bodies
from pilot.translate.routes import RouteContext, http_routes
from pilot.translate.tcp_routes import (
    add_sni_chains,
    first_route,
    sni_chains,
    tcp_chain_filter,
    tcp_proxy,
    tls_inspector,
)

TLS_TRANSPORT = "envoy.transport_sockets.tls"


def _bind_suffix(bind: str) -> str:
    return f".{bind}" if bind else ""


def http_route_name(port: int, bind: str = "") -> str:
    """`http.<listen port>[.<bind>]`: plain HTTP servers on one listener share one route config."""
    return f"http.{port}{_bind_suffix(bind)}"


def https_route_name(server: GatewayServer) -> str:
    """`https.<server port>.<port name>.<gateway>.<namespace>[.<bind>]`: one per terminated server."""
    return (f"https.{server.number}.{server.port_name}.{server.gateway_name}.{server.gateway_namespace}"
            f"{_bind_suffix(server.bind)}")


def listener_name(server: GatewayServer) -> str:
    return names.listener_name(server.bind or "0.0.0.0", server.listen_port)


def _domains(host: str, ports: set[int]) -> list[str]:
    if host == "*":
        return ["*"]
    return [host] + [f"{host}:{p}" for p in sorted(ports)]


def gateway_route_config(snapshot: MeshSnapshot, view: ProxyView, name: str,
                         servers: list[GatewayServer]) -> route_pb2.RouteConfiguration:
    """One virtual host per host the servers' VirtualServices route; VirtualServices for the same host
    are merged in age order. A domain already taken by an earlier virtual host is not repeated."""
    rcfg = route_pb2.RouteConfiguration(name=name)
    rcfg.validate_clusters.value = False
    used: set[str] = set()
    vhosts: dict[str, rc.VirtualHost] = {}
    for server in servers:
        ctx = RouteContext(snapshot, view, server.number, server.gateway)
        redirect = bool(server.tls.get("httpsRedirect")) if server.tls else False
        for host, vss in sorted(hosts_on_server(snapshot, view, server).items()):
            routes = [r for vs in vss for r in http_routes(ctx, expand_delegates(snapshot, vs))]
            if not routes and not redirect:
                continue
            vh = vhosts.get(host)
            if vh is None:
                domains = [d for d in _domains(host, {server.number, server.listen_port}) if d not in used]
                if not domains:
                    continue
                used.update(domains)
                vh = rcfg.virtual_hosts.add(name=names.virtual_host_name(host, server.number), domains=domains)
                vhosts[host] = vh
            vh.routes.extend(routes)
            if redirect:
                vh.require_tls = rc.VirtualHost.ALL
    for vh in rcfg.virtual_hosts:
        if not vh.routes:  # redirect-only: require_tls answers first, the route is never reached
            vh.routes.add(name="https_redirect", match=rc.RouteMatch(prefix="/")).direct_response.status = 404
    allow_large_bodies(rcfg)
    return rcfg


def _hcm_chain(lis: listener_pb2.Listener, prefix: str, rds: str) -> listener_pb2.FilterChain:
    chain = lis.filter_chains.add()
    hcm = http_connection_manager(prefix, rds=rds)
    hcm.use_remote_address.value = True  # the gateway is the edge: trust no inbound XFF
    chain.filters.append(network_filter(HCM_NAME, hcm))
    return chain


def _tls_socket(server: GatewayServer) -> base_pb2.TransportSocket:
    return base_pb2.TransportSocket(name=TLS_TRANSPORT, typed_config=pack(downstream_tls_context(server)))


def _server_names(server: GatewayServer) -> list[str]:
    hosts = server.host_names()
    return [] if "*" in hosts else list(hosts)


def gateway_listener(snapshot: MeshSnapshot, view: ProxyView, address: str, port: int,
                     servers: list[GatewayServer]) -> tuple[listener_pb2.Listener, dict[str, list[GatewayServer]]]:
    """The listener for one (address, port) and the HTTP route configs its chains ask for."""
    lis = listener_pb2.Listener(name=listener_name(servers[0]), address=socket_address(address, port))
    lis.traffic_direction = 2  # OUTBOUND, as istiod marks gateway listeners
    routes: dict[str, list[GatewayServer]] = {}
    prefix = f"outbound_0.0.0.0_{port}"
    plain = [s for s in servers if s.terminates_http and not s.is_tls]
    tls_servers = [s for s in servers if s.is_tls]
    if plain:
        name = http_route_name(port, servers[0].bind)
        routes[name] = plain
        chain = _hcm_chain(lis, prefix, name)
        if tls_servers:
            chain.filter_chain_match.transport_protocol = "raw_buffer"
    claimed: set[tuple[str, ...]] = set()
    sni_routes = []
    for s in tls_servers:
        if s.terminates_http and s.tls_mode in ("SIMPLE", "MUTUAL"):
            sni = tuple(_server_names(s))
            if sni in claimed:
                continue  # Envoy rejects two chains with the same match; the older server wins
            claimed.add(sni)
            routes[https_route_name(s)] = [s]
            chain = _hcm_chain(lis, prefix, https_route_name(s))
            chain.filter_chain_match.server_names.extend(sni)
            chain.transport_socket.CopyFrom(_tls_socket(s))
        elif s.tls_mode == "PASSTHROUGH" or s.protocol == "TLS":
            ctx = RouteContext(snapshot, view, s.number, s.gateway)
            for vs in gateway_virtual_services(snapshot, view, s.gateway):
                sni_routes.extend(sni_chains(ctx, vs, s.host_names() or ("*",), s.gateway))
    if sni_routes:
        add_sni_chains(lis, [c for c in sni_routes if c[0] not in claimed])
    for s in (s for s in servers if s.protocol in ("TCP", "MONGO", "MYSQL", "REDIS")):
        ctx = RouteContext(snapshot, view, s.number, s.gateway)
        for vs in gateway_virtual_services(snapshot, view, s.gateway):
            entry = first_route(vs.spec.get("tcp") or [], view, s.number, s.gateway)
            if entry is not None and entry.get("route") and not plain and not lis.filter_chains:
                lis.filter_chains.add().filters.append(tcp_chain_filter(tcp_proxy(ctx, vs.namespace, entry["route"])))
    if tls_servers:
        lis.listener_filters.append(tls_inspector())
    return lis, routes


def gateway_resources(snapshot: MeshSnapshot, view: ProxyView
                      ) -> tuple[dict[str, any_pb2.Any], dict[str, any_pb2.Any], dict[str, any_pb2.Any]]:
    """(listeners, route configs, secrets) for a router proxy."""
    listeners: dict[str, any_pb2.Any] = {}
    route_cfgs: dict[str, any_pb2.Any] = {}
    all_servers: list[GatewayServer] = []
    for (address, port), servers in sorted(servers_by_listener(snapshot, view).items()):
        lis, routes = gateway_listener(snapshot, view, address, port, servers)
        if not lis.filter_chains:
            continue  # nothing routable on this port yet (e.g. a TCP server with no VirtualService)
        all_servers.extend(servers)
        listeners[lis.name] = pack(lis)
        for name, srv in routes.items():
            route_cfgs[name] = pack(gateway_route_config(snapshot, view, name, srv))
    return listeners, route_cfgs, gateway_secrets(snapshot, view, all_servers)
