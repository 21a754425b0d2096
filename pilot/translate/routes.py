"""RDS: outbound route configurations per listener port, with one virtual host per service.

A VirtualService turns into ordered routes (one per match block); a host without one gets Istio's
`default` route. https://istio.io/latest/docs/reference/config/networking/virtual-service/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2

from pilot.model.delegate import expand_delegates
from pilot.model.durations import parse_duration
from pilot.model.proxy import ProxyView
from pilot.model.registry import Service
from pilot.model.resource import Resource
from pilot.model.scope import (
    destination_rule_for,
    resolve_host,
    virtual_service_for,
    virtual_service_only_hosts,
)
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.clusters import merged_policy
from pilot.translate.pb import duration, pack
from pilot.translate.route_actions import (
    allow_large_bodies,
    apply_rewrite,
    direct_response,
    headers_operations,
    mirror_policies,
    redirect_action,
)
from pilot.translate.route_match import applies_to, is_catch_all, route_match
from pilot.translate.route_policies import retry_policy, typed_per_filter
from pilot.translate.shared import outbound_scope, shared


class RouteContext:
    """What translating one VirtualService for one proxy and port needs."""

    def __init__(self, snapshot: MeshSnapshot, view: ProxyView, port: int, gateway: str = "mesh") -> None:
        self.snapshot = snapshot
        self.view = view
        self.port = port
        self.gateway = gateway

    def cluster_for(self, vs_ns: str, dest: Mapping[str, Any]) -> str:
        host = resolve_host(str(dest.get("host", "")), vs_ns, self.snapshot.mesh.domain_suffix)
        port = int((dest.get("port") or {}).get("number", 0))
        if not port:
            svc = self.snapshot.services.get(host)
            port = svc.ports[0].port if svc and len(svc.ports) == 1 else self.port
        return names.outbound_cluster(port, str(dest.get("subset") or ""), host)

    def hash_policies(self, vs_ns: str, dest: Mapping[str, Any]) -> list[rc.RouteAction.HashPolicy]:
        host = resolve_host(str(dest.get("host", "")), vs_ns, self.snapshot.mesh.domain_suffix)
        dr = destination_rule_for(self.snapshot, self.view, host)
        port = int((dest.get("port") or {}).get("number", 0)) or self.port
        ch = (merged_policy(dr, str(dest.get("subset") or ""), port).get("loadBalancer") or {}) \
            .get("consistentHash")
        return consistent_hash_policy(ch) if ch else []


def consistent_hash_policy(ch: Mapping[str, Any]) -> list[rc.RouteAction.HashPolicy]:
    hp = rc.RouteAction.HashPolicy()
    if ch.get("httpHeaderName"):
        hp.header.header_name = str(ch["httpHeaderName"])
    elif ch.get("httpCookie"):
        cookie = ch["httpCookie"]
        hp.cookie.name = str(cookie.get("name", ""))
        if cookie.get("path"):
            hp.cookie.path = str(cookie["path"])
        if cookie.get("ttl"):
            hp.cookie.ttl.CopyFrom(duration(parse_duration(cookie["ttl"])))
        for attr in cookie.get("attributes") or []:
            hp.cookie.attributes.add(name=str(attr.get("name", "")), value=str(attr.get("value", "")))
    elif ch.get("useSourceIp"):
        hp.connection_properties.source_ip = True
    elif ch.get("httpQueryParameterName"):
        hp.query_parameter.name = str(ch["httpQueryParameterName"])
    else:
        return []
    return [hp]


def http_routes(ctx: RouteContext, vs: Resource) -> list[rc.Route]:
    out: list[rc.Route] = []
    for http in vs.spec.get("http") or []:
        if not http.get("match"):
            out.append(_route(ctx, vs, http, None))
            return out  # routes are matched in order: nothing after a match-all route can be reached
        for m in http["match"]:
            if not applies_to(m, ctx.view, ctx.port, ctx.gateway):
                continue
            out.append(_route(ctx, vs, http, m))
            if is_catch_all(out[-1]):
                return out
    return out


def _route(ctx: RouteContext, vs: Resource, http: Mapping[str, Any], match: Mapping[str, Any] | None
           ) -> rc.Route:
    name = ".".join(x for x in (http.get("name"), (match or {}).get("name")) if x)
    r = rc.Route(name=name, match=route_match(match))
    ops = headers_operations(http.get("headers"))
    ops.apply_to(r)
    for key, cfg in typed_per_filter(http).items():
        r.typed_per_filter_config[key].CopyFrom(cfg)
    if http.get("redirect"):
        r.redirect.CopyFrom(redirect_action(http["redirect"], ctx.port))
    elif http.get("directResponse"):
        r.direct_response.CopyFrom(direct_response(http["directResponse"]))
    else:
        r.route.CopyFrom(_route_action(ctx, vs, http, r, ops.authority))
    return r


def _route_action(ctx: RouteContext, vs: Resource, http: Mapping[str, Any], r: rc.Route, authority: str
                  ) -> rc.RouteAction:
    """Destinations, timeout, retries, rewrite and mirrors, as istiod's applyHTTPRouteDestination."""
    action = rc.RouteAction()
    timeout = duration(parse_duration(http["timeout"]) if http.get("timeout") else 0)
    action.timeout.CopyFrom(timeout)  # Istio disables the route timeout unless the VirtualService sets one
    action.max_grpc_timeout.CopyFrom(timeout)
    apply_rewrite(action, http.get("rewrite"))
    authority = str((http.get("rewrite") or {}).get("authority") or authority)
    if authority:
        action.host_rewrite_literal = authority
    action.request_mirror_policies.extend(
        mirror_policies(http, lambda d: ctx.cluster_for(vs.namespace, d)))
    routes = list(http.get("route") or [])
    hashed = False
    if len(routes) == 1:
        dest = routes[0].get("destination") or {}
        action.cluster = ctx.cluster_for(vs.namespace, dest)
        # A single destination's headers go onto the route itself.
        ops = headers_operations(routes[0].get("headers"))
        ops.apply_to(r)
        if ops.authority and not action.host_rewrite_literal:
            action.host_rewrite_literal = ops.authority
        hashes = ctx.hash_policies(vs.namespace, dest)
        action.hash_policy.extend(hashes)
        hashed = bool(hashes)
    else:
        for d in routes:
            if int(d.get("weight") or 0) == 0:
                continue  # zero-weight destinations are dropped when there are others
            dest = d.get("destination") or {}
            cw = action.weighted_clusters.clusters.add(name=ctx.cluster_for(vs.namespace, dest))
            cw.weight.value = int(d["weight"])
            ops = headers_operations(d.get("headers"))
            ops.apply_to(cw)
            if ops.authority:
                cw.host_rewrite_literal = ops.authority
            action.hash_policy.extend(ctx.hash_policies(vs.namespace, dest))
    rp = retry_policy(http.get("retries"), consistent_hash=hashed)
    if rp is not None:
        action.retry_policy.CopyFrom(rp)
    return action


def default_route(cluster: str) -> rc.Route:
    r = rc.Route(name="default", match=rc.RouteMatch(prefix="/"))
    r.route.cluster = cluster
    r.route.timeout.CopyFrom(duration(0))
    r.route.max_grpc_timeout.CopyFrom(duration(0))
    rp = retry_policy(None)
    assert rp is not None
    r.route.retry_policy.CopyFrom(rp)
    return r


def domains_for(svc: Service, port: int, proxy_ns: str) -> list[str]:
    hosts = [svc.hostname]
    short = svc.short_names()
    if short:
        hosts.extend(h for h in short if h != svc.name or svc.namespace == proxy_ns)
    hosts.extend(svc.addresses)
    if svc.cluster_ip:
        hosts.append(svc.cluster_ip)  # istiod's virtual hosts answer to the ClusterIP too
    return [d for h in hosts for d in (h, f"{h}:{port}")]


def virtual_host(ctx: RouteContext, svc: Service, sidecar: Resource | None) -> rc.VirtualHost:
    vh = rc.VirtualHost(name=names.virtual_host_name(svc.hostname, ctx.port),
                        domains=domains_for(svc, ctx.port, ctx.view.namespace))
    vs = virtual_service_for(ctx.snapshot, ctx.view, svc.hostname, sidecar, ctx.gateway)
    routes = http_routes(ctx, expand_delegates(ctx.snapshot, vs)) if vs is not None else []
    if not routes:
        routes = [default_route(names.outbound_cluster(ctx.port, "", svc.hostname))]
    vh.routes.extend(routes)
    return vh


def _add_unique(rcfg: route_pb2.RouteConfiguration, vh: rc.VirtualHost, used: set[str]) -> None:
    """Envoy rejects a route configuration naming one domain twice (two ServiceEntries may share an
    address, say, or one lists an address twice), comparing them case-insensitively: the first virtual
    host keeps it."""
    domains: list[str] = []
    for d in vh.domains:
        if d.lower() not in used:
            used.add(d.lower())
            domains.append(d)
    if not domains:
        return
    del vh.domains[:]
    vh.domains.extend(domains)
    rcfg.virtual_hosts.append(vh)


def outbound_route_any(snapshot: MeshSnapshot, view: ProxyView, port: int, services: list[Service],
                       sidecar: Resource | None) -> any_pb2.Any:
    """The packed route configuration for `port`, shared by proxies with the same outbound scope."""
    return shared(snapshot, ("rds", port, *outbound_scope(snapshot, view, sidecar)),
                  lambda: pack(outbound_route_config(snapshot, view, port, services, sidecar)))


def outbound_route_config(snapshot: MeshSnapshot, view: ProxyView, port: int, services: list[Service],
                          sidecar: Resource | None) -> route_pb2.RouteConfiguration:
    ctx = RouteContext(snapshot, view, port)
    rcfg = route_pb2.RouteConfiguration(name=names.outbound_route_name(port))
    rcfg.validate_clusters.value = False
    used: set[str] = set()
    for svc in services:
        sp = svc.port(port)
        if sp is None or not sp.is_http:
            continue
        _add_unique(rcfg, virtual_host(ctx, svc, sidecar), used)
    for host, vs in virtual_service_only_hosts(snapshot, view, services, sidecar):
        routes = http_routes(ctx, expand_delegates(snapshot, vs))
        if routes:
            vh = rc.VirtualHost(name=names.virtual_host_name(host, port), domains=[host, f"{host}:{port}"])
            vh.routes.extend(routes)
            _add_unique(rcfg, vh, used)
    block = rcfg.virtual_hosts.add(name="block_all", domains=["*"])
    block.routes.add(name="block_all", match=rc.RouteMatch(prefix="/")).direct_response.status = 502
    allow_large_bodies(rcfg)
    return rcfg
