"""The destination sidecar's side: inbound listener, filter chain (mTLS or plaintext), RBAC filters
(network and HTTP, in filter order, DENY before ALLOW as Istio orders them), then the inbound route.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.rbac.v3 import rbac_pb2 as net_rbac
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from pilot.simulate.config import Connection, ProxyConfig, inbound_listener, select_filter_chain
from pilot.simulate.rbac_eval import Peer, evaluate
from pilot.simulate.request import Request
from pilot.simulate.result import Destination
from pilot.simulate.routing import select_route, select_virtual_host
from pilot.simulate.upstream import LbEndpoint

HCM = "envoy.filters.network.http_connection_manager"
HTTP_RBAC = "envoy.filters.http.rbac"
NETWORK_RBAC = "envoy.filters.network.rbac"
JWT_AUTHN = "envoy.filters.http.jwt_authn"
JWT_NOTE = ("RequestAuthentication (jwt_authn) is not simulated: the request counts as carrying no token "
            "(allowed by jwt_authn; requestPrincipals and request.auth.* never match)")


def _terminates_mtls(chain: lc.FilterChain) -> bool:
    ts = chain.transport_socket
    if not chain.HasField("transport_socket") or not ts.typed_config.Is(tls_pb2.DownstreamTlsContext.DESCRIPTOR):
        return False
    ctx = tls_pb2.DownstreamTlsContext()
    ts.typed_config.Unpack(ctx)
    return ctx.require_client_certificate.value


def _rbac_step(dest: Destination, rules_owner: http_rbac.RBAC | net_rbac.RBAC, peer: Peer) -> bool:
    """Evaluate one RBAC filter; False when it denies the request."""
    if rules_owner.HasField("shadow_rules"):
        shadow = evaluate(rules_owner.shadow_rules, peer)
        dest.notes.append(f"dry-run {shadow.action} policy: would {'allow' if shadow.allowed else 'deny'}"
                          + (f" (matched {shadow.policy})" if shadow.policy else ""))
    if not rules_owner.HasField("rules"):
        return True
    decision = evaluate(rules_owner.rules, peer)
    if decision.action == "LOG":
        return True
    if not decision.allowed:
        dest.allowed, dest.action = False, decision.action
        dest.policy = decision.policy or "(no ALLOW policy matched)"
        return False
    if decision.policy and decision.action == "ALLOW":
        dest.policy, dest.action = decision.policy, decision.action
    return True


def evaluate_destination(cfg: ProxyConfig, pod: str, ep: LbEndpoint, request: Request,
                         client_ip: str, client_principal: str) -> Destination:
    dest = Destination(pod=pod, address=ep.address, port=ep.port)
    lis = inbound_listener(cfg, ep.address, ep.port)
    if lis is None:
        dest.notes.append(f"no inbound listener on {ep.address}:{ep.port}: no sidecar policy applies")
        return dest
    dest.listener = lis.name
    tls = ep.tls
    conn = Connection(ep.address, ep.port, "tls" if tls else "raw_buffer", tls.sni if tls else "",
                      tls.alpn if tls else ())
    chain = select_filter_chain(lis, conn)
    if chain is None:
        dest.allowed = False
        dest.error = (f"no filter chain of {lis.name} accepts a {'TLS' if tls else 'plaintext'} connection "
                      "(connection reset)")
        return dest
    dest.filter_chain = chain.name
    mtls = bool(tls and tls.client_cert and _terminates_mtls(chain))
    dest.principal = client_principal if mtls else ""
    peer = Peer(headers=request.header_map(), path=request.path, source_ip=client_ip,
                destination_ip=ep.address, destination_port=ep.port, principal=dest.principal,
                server_name=conn.server_name)
    for f in chain.filters:
        if f.name == NETWORK_RBAC:
            cfg_net = net_rbac.RBAC()
            f.typed_config.Unpack(cfg_net)
            if not _rbac_step(dest, cfg_net, peer):
                break
        elif f.name == HCM:
            manager = hcm.HttpConnectionManager()
            f.typed_config.Unpack(manager)
            _http_side(dest, cfg, manager, request, peer)
            break
    dest.notes.extend(dict.fromkeys(peer.notes))
    return dest


def apply_http_rbac(dest: Destination, http_filters: Iterable[hcm.HttpFilter], peer: Peer) -> bool:
    """Run the HTTP RBAC filters in order; False (and `dest` says why) when one denies."""
    for hf in http_filters:
        if hf.name == HTTP_RBAC:
            rbac = http_rbac.RBAC()
            hf.typed_config.Unpack(rbac)
            if not _rbac_step(dest, rbac, peer):
                return False
    return True


def _http_side(dest: Destination, cfg: ProxyConfig, manager: hcm.HttpConnectionManager, request: Request,
               peer: Peer) -> None:
    if any(f.name == JWT_AUTHN for f in manager.http_filters):
        peer.notes.append(JWT_NOTE)
    if not apply_http_rbac(dest, manager.http_filters, peer):
        return
    rcfg = manager.route_config if manager.HasField("route_config") else cfg.routes.get(
        manager.rds.route_config_name)
    if rcfg is None:
        dest.error = "inbound route configuration not found"
        return
    vh = select_virtual_host(rcfg, request.host)
    route = select_route(vh.routes, request, dest.notes) if vh is not None else None
    if route is None:
        dest.error = "no inbound route matches (404)"
        return
    dest.route = route.name
    dest.cluster = route.route.cluster
