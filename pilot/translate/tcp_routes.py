"""VirtualService `tcp[]` and `tls[]` routes -> tcp_proxy filter chains.

- `tcp[].match{port, sourceLabels, gateways}` is evaluated per proxy at generation time; the first
  matching entry's `route` becomes a tcp_proxy to one cluster or to weighted_clusters.
- `tls[].match{sniHosts}` becomes one filter chain per route whose `filter_chain_match.server_names`
  are the SNI hosts, read by the tls_inspector listener filter; traffic stays encrypted end to end.
https://istio.io/latest/docs/reference/config/networking/virtual-service/#TCPRoute
https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from pilot.model.proxy import ProxyView
from pilot.model.registry import Service
from pilot.model.resource import Resource
from pilot.model.scope import host_matches, virtual_service_for
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.pb import pack, socket_address
from pilot.translate.routes import RouteContext

TCP_PROXY = "envoy.filters.network.tcp_proxy"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"


def match_applies(match: Mapping[str, Any], view: ProxyView, port: int, gateway: str) -> bool:
    if match.get("port") and int(match["port"]) != port:
        return False
    if match.get("sourceLabels") and not view.matches({str(k): str(v) for k, v in match["sourceLabels"].items()}):
        return False
    if match.get("sourceNamespace") and match["sourceNamespace"] != view.namespace:
        return False
    gws = [str(g) for g in match.get("gateways") or []]
    return not gws or gateway in gws or any(g.split("/")[-1] == gateway.split("/")[-1] for g in gws)


def first_route(entries: Sequence[Mapping[str, Any]], view: ProxyView, port: int,
                gateway: str = "mesh") -> Mapping[str, Any] | None:
    """The first `tcp[]`/`tls[]` entry with a match that applies (an entry without matches always does)."""
    for entry in entries:
        matches = list(entry.get("match") or [])
        if not matches or any(match_applies(m, view, port, gateway) for m in matches):
            return entry
    return None


def tcp_proxy(ctx: RouteContext, vs_ns: str, route: Sequence[Mapping[str, Any]],
              stat_prefix: str = "") -> tcp_proxy_pb2.TcpProxy:
    """One destination -> `cluster`; several -> `weighted_clusters` (zero weights dropped)."""
    dests = [d for d in route if len(route) == 1 or int(d.get("weight", 0)) > 0]
    tp = tcp_proxy_pb2.TcpProxy()
    if len(dests) == 1:
        tp.cluster = ctx.cluster_for(vs_ns, dests[0].get("destination") or {})
        tp.stat_prefix = stat_prefix or tp.cluster
        return tp
    for d in dests:
        tp.weighted_clusters.clusters.add(name=ctx.cluster_for(vs_ns, d.get("destination") or {}),
                                          weight=int(d.get("weight", 0)))
    tp.stat_prefix = stat_prefix or "tcp_weighted"
    return tp


def tcp_chain_filter(tp: tcp_proxy_pb2.TcpProxy) -> listener_components_pb2.Filter:
    return listener_components_pb2.Filter(name=TCP_PROXY, typed_config=pack(tp))


def _vs_for(snapshot: MeshSnapshot, view: ProxyView, svc: Service, sidecar: Resource | None) -> Resource | None:
    return virtual_service_for(snapshot, view, svc.hostname, sidecar)


def outbound_tcp_listener(snapshot: MeshSnapshot, view: ProxyView, bind: str, port: int,
                          services: list[Service], sidecar: Resource | None) -> listener_pb2.Listener:
    """A plain TCP egress listener: without a destination VIP it can carry one service, so the first
    visible service on the port with a VirtualService `tcp` route wins, else the first service."""
    ctx = RouteContext(snapshot, view, port)
    on_port = [s for s in services if s.port(port)]
    tp: tcp_proxy_pb2.TcpProxy | None = None
    for svc in on_port:
        vs = _vs_for(snapshot, view, svc, sidecar)
        entry = first_route(vs.spec.get("tcp") or [], view, port) if vs is not None else None
        if vs is not None and entry is not None and entry.get("route"):
            tp = tcp_proxy(ctx, vs.namespace, entry["route"], names.outbound_cluster(port, "", svc.hostname))
            break
    if tp is None:
        cluster = names.outbound_cluster(port, "", on_port[0].hostname) if on_port else names.BLACKHOLE
        tp = tcp_proxy_pb2.TcpProxy(stat_prefix=cluster, cluster=cluster)
    lis = _listener(bind, port)
    lis.filter_chains.add().filters.append(tcp_chain_filter(tp))
    return lis


def _listener(bind: str, port: int) -> listener_pb2.Listener:
    lis = listener_pb2.Listener(name=names.listener_name(bind, port), address=socket_address(bind, port))
    lis.traffic_direction = 2  # OUTBOUND
    return lis


def tls_inspector() -> listener_components_pb2.ListenerFilter:
    return listener_components_pb2.ListenerFilter(name=TLS_INSPECTOR,
                                                  typed_config=pack(tls_inspector_pb2.TlsInspector()))


def sni_chains(ctx: RouteContext, vs: Resource, sni_filter: Sequence[str] = ("*",),
               gateway: str = "mesh") -> list[tuple[tuple[str, ...], tcp_proxy_pb2.TcpProxy]]:
    """(server names, tcp_proxy) per `tls[]` route of `vs` that applies on this port."""
    out = []
    for entry in vs.spec.get("tls") or []:
        for m in entry.get("match") or []:
            if not match_applies(m, ctx.view, ctx.port, gateway):
                continue
            snis = tuple(str(h) for h in m.get("sniHosts") or []
                         if any(host_matches(f, str(h)) or host_matches(str(h), f) for f in sni_filter))
            if snis and entry.get("route"):
                out.append((snis, tcp_proxy(ctx, vs.namespace, entry["route"])))
    return out


def outbound_tls_listener(snapshot: MeshSnapshot, view: ProxyView, bind: str, port: int,
                          services: list[Service], sidecar: Resource | None) -> listener_pb2.Listener:
    """A TLS egress listener routing by SNI: VirtualService `tls` routes first, then each visible
    service on the port under its own hostname."""
    ctx = RouteContext(snapshot, view, port)
    chains: list[tuple[tuple[str, ...], tcp_proxy_pb2.TcpProxy]] = []
    for svc in (s for s in services if s.port(port)):
        vs = _vs_for(snapshot, view, svc, sidecar)
        routed = sni_chains(ctx, vs, (svc.hostname,)) if vs is not None else []
        if not routed:
            cluster = names.outbound_cluster(port, "", svc.hostname)
            routed = [((svc.hostname,), tcp_proxy_pb2.TcpProxy(stat_prefix=cluster, cluster=cluster))]
        chains.extend(routed)
    lis = _listener(bind, port)
    lis.listener_filters.append(tls_inspector())
    add_sni_chains(lis, chains)
    return lis


def add_sni_chains(lis: listener_pb2.Listener,
                   chains: Sequence[tuple[tuple[str, ...], tcp_proxy_pb2.TcpProxy]]) -> None:
    """Append one filter chain per SNI set; an SNI already claimed by an earlier chain is dropped,
    since Envoy rejects two chains with the same match."""
    seen: set[str] = set()
    for snis, tp in chains:
        fresh = [s for s in snis if s not in seen]
        if not fresh:
            continue
        seen.update(fresh)
        chain = lis.filter_chains.add()
        chain.filter_chain_match.server_names.extend(fresh)
        chain.filters.append(tcp_chain_filter(tp))
