"""RDS: outbound route configurations per listener port, with one virtual host per service.

A VirtualService turns into ordered routes (one per match block); a host without one gets Istio's
`default` route. https://istio.io/latest/docs/reference/config/networking/virtual-service/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2

from pilot.model.delegate import expand_delegates
from pilot.model.durations import parse_duration
from pilot.model.proxy import ProxyView
from pilot.model.registry import Service
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for, resolve_host, virtual_service_for
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.clusters import merged_policy
from pilot.translate.pb import duration
from pilot.translate.route_actions import (
    apply_rewrite,
    direct_response,
    header_ops,
    mirror_policies,
    redirect_action,
    retry_policy,
    typed_per_filter,
)
from pilot.translate.route_match import applies_to, is_catch_all, route_match


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
        matches = list(http.get("match") or [None])
        matches = [m for m in matches if m is None or applies_to(m, ctx.view, ctx.port, ctx.gateway)]
        if not matches:
            continue
        for m in matches:
            out.append(_route(ctx, vs, http, m))
            if is_catch_all(m):
                return out  # Istio stops after the first catch-all route
    return out


def _route(ctx: RouteContext, vs: Resource, http: Mapping[str, Any], match: Mapping[str, Any] | None
           ) -> rc.Route:
    name = ".".join(x for x in (http.get("name"), (match or {}).get("name")) if x)
    r = rc.Route(name=name, match=route_match(match))
    add, remove = header_ops(http.get("headers"), "request")
    r.request_headers_to_add.extend(add)
    r.request_headers_to_remove.extend(remove)
    add, remove = header_ops(http.get("headers"), "response")
    r.response_headers_to_add.extend(add)
    r.response_headers_to_remove.extend(remove)
    for key, cfg in typed_per_filter(http).items():
        r.typed_per_filter_config[key].CopyFrom(cfg)
    if http.get("redirect"):
        r.redirect.CopyFrom(redirect_action(http["redirect"]))
        return r
    if http.get("directResponse"):
        r.direct_response.CopyFrom(direct_response(http["directResponse"]))
        return r
    r.route.CopyFrom(_route_action(ctx, vs, http))
    return r


def _route_action(ctx: RouteContext, vs: Resource, http: Mapping[str, Any]) -> rc.RouteAction:
    action = rc.RouteAction()
    dests = [d for d in http.get("route") or [] if len(http.get("route") or []) == 1
             or int(d.get("weight", 0)) > 0]
    if len(dests) == 1:
        action.cluster = ctx.cluster_for(vs.namespace, dests[0].get("destination") or {})
        action.hash_policy.extend(ctx.hash_policies(vs.namespace, dests[0].get("destination") or {}))
        add, remove = header_ops(dests[0].get("headers"), "request")
        if add or remove:
            action.ClearField("cluster")
            cw = action.weighted_clusters.clusters.add(
                name=ctx.cluster_for(vs.namespace, dests[0].get("destination") or {}))
            cw.weight.value = 100
            cw.request_headers_to_add.extend(add)
            cw.request_headers_to_remove.extend(remove)
    else:
        for d in dests:
            cw = action.weighted_clusters.clusters.add(name=ctx.cluster_for(vs.namespace,
                                                                            d.get("destination") or {}))
            cw.weight.value = int(d.get("weight", 0))
            add, remove = header_ops(d.get("headers"), "request")
            cw.request_headers_to_add.extend(add)
            cw.request_headers_to_remove.extend(remove)
    # Istio disables the route timeout unless the VirtualService sets one.
    action.timeout.CopyFrom(duration(parse_duration(http["timeout"]) if http.get("timeout") else 0))
    rp = retry_policy(http.get("retries"))
    if rp is not None:
        action.retry_policy.CopyFrom(rp)
    apply_rewrite(action, http.get("rewrite"))
    action.request_mirror_policies.extend(
        mirror_policies(http, lambda d: ctx.cluster_for(vs.namespace, d)))
    return action


def default_route(cluster: str) -> rc.Route:
    r = rc.Route(name="default", match=rc.RouteMatch(prefix="/"))
    r.route.cluster = cluster
    r.route.timeout.CopyFrom(duration(0))
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


def outbound_route_config(snapshot: MeshSnapshot, view: ProxyView, port: int, services: list[Service],
                          sidecar: Resource | None) -> route_pb2.RouteConfiguration:
    ctx = RouteContext(snapshot, view, port)
    rcfg = route_pb2.RouteConfiguration(name=names.outbound_route_name(port))
    rcfg.validate_clusters.value = False
    for svc in services:
        sp = svc.port(port)
        if sp is None or not sp.is_http:
            continue
        rcfg.virtual_hosts.append(virtual_host(ctx, svc, sidecar))
    block = rcfg.virtual_hosts.add(name="block_all", domains=["*"])
    block.routes.add(name="block_all", match=rc.RouteMatch(prefix="/")).direct_response.status = 502
    return rcfg
