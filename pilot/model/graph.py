"""The mesh graph (networkx): services, workloads, subsets, config, and the routes between services.

Node ids: `svc:<fqdn>`, `wl:<ns>/<name>`, `subset:<fqdn>/<subset>`, `cfg:<Kind>/<ns>/<name>`.
Edge kinds: `member` (workload -> service), `subset` (service -> subset), `route` (service -> service or
subset, with `weight`), `configures` (config -> service), `applies` (config -> workload).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import networkx as nx

from pilot.model.resource import ConfigKey, Resource

if TYPE_CHECKING:
    from pilot.model.snapshot import MeshSnapshot


def svc_node(host: str) -> str:
    return f"svc:{host}"


def wl_node(ns: str, name: str) -> str:
    return f"wl:{ns}/{name}"


def cfg_node(key: ConfigKey) -> str:
    return f"cfg:{key.kind}/{key.namespace}/{key.name}"


def build_graph(snapshot: MeshSnapshot) -> nx.MultiDiGraph:
    from pilot.model.scope import resolve_host, virtual_service_hosts

    suffix = snapshot.mesh.domain_suffix
    g = nx.MultiDiGraph()
    for svc in snapshot.services.values():
        g.add_node(svc_node(svc.hostname), type="service", name=svc.name, namespace=svc.namespace,
                   external=svc.mesh_external)
    for w in snapshot.workloads:
        g.add_node(wl_node(w.namespace, w.name), type="workload", namespace=w.namespace,
                   labels=dict(w.labels), service_account=w.service_account, ip=w.ip)
    for (host, _port), eps in snapshot.endpoints.items():
        for ep in eps:
            if ep.workload:
                g.add_edge(wl_node(ep.namespace, ep.workload), svc_node(host), kind="member")
    for dr in snapshot.of_kind("DestinationRule"):
        host = resolve_host(str(dr.spec.get("host", "")), dr.namespace, suffix)
        g.add_node(cfg_node(dr.key), type="config", kind=dr.kind)
        g.add_edge(cfg_node(dr.key), svc_node(host), kind="configures")
        for ss in dr.spec.get("subsets") or []:
            sub = f"subset:{host}/{ss.get('name')}"
            g.add_node(sub, type="subset", labels=dict(ss.get("labels") or {}))
            g.add_edge(svc_node(host), sub, kind="subset")
    for vs in snapshot.of_kind("VirtualService"):
        g.add_node(cfg_node(vs.key), type="config", kind=vs.kind)
        sources = virtual_service_hosts(vs, suffix)
        for h in sources:
            g.add_edge(cfg_node(vs.key), svc_node(h), kind="configures")
        for section in ("http", "tcp", "tls"):
            for rule in vs.spec.get(section) or []:
                for dest in _destinations(rule):
                    d = dest.get("destination") or {}
                    target = resolve_host(str(d.get("host", "")), vs.namespace, suffix)
                    node = f"subset:{target}/{d['subset']}" if d.get("subset") else svc_node(target)
                    for h in sources:
                        g.add_edge(svc_node(h), node, kind="route", weight=int(dest.get("weight", 100)),
                                   via=cfg_node(vs.key), conditional=bool(rule.get("match")))
    for kind in ("Sidecar", "PeerAuthentication", "AuthorizationPolicy", "EnvoyFilter", "RateLimitPolicy",
                 "RequestAuthentication", "Telemetry"):
        for res in snapshot.of_kind(kind):
            g.add_node(cfg_node(res.key), type="config", kind=kind)
            for ns, name in _selected_workloads(snapshot, res):
                g.add_edge(cfg_node(res.key), wl_node(ns, name), kind="applies")
    return g


def _destinations(rule: dict) -> list[dict]:
    out = list(rule.get("route") or [])
    for m in [rule.get("mirror")] if rule.get("mirror") else []:
        out.append({"destination": m, "weight": 0})
    return out


def _selected_workloads(snapshot: MeshSnapshot, res: Resource) -> Iterable[tuple[str, str]]:
    """Workloads a policy selects: its namespace's, or every namespace's from the root namespace."""
    spec = res.spec
    sel = (spec.get("workloadSelector") or {}).get("labels") or (spec.get("selector") or {}).get("matchLabels")
    index = snapshot.workload_index
    namespaces = list(index.by_namespace) if res.namespace == snapshot.mesh.root_namespace else [res.namespace]
    for w in index.select_in(namespaces, dict(sel or {})):
        yield (w.namespace, w.name)


def affected_workloads(graph: nx.MultiDiGraph, keys: Iterable[ConfigKey]) -> set[str]:
    """Workload nodes whose config may change when these config keys change.

    A service-level change reaches every workload that can call the service; in a mesh without
    Sidecar scoping that is every workload, so the caller decides scope. Here we return the direct
    reach: workloads a config applies to, plus members of services it configures.
    """
    out: set[str] = set()
    for key in keys:
        n = cfg_node(key)
        if n not in graph:
            continue
        for _, target, data in graph.out_edges(n, data=True):
            if data.get("kind") == "applies":
                out.add(target)
            elif data.get("kind") == "configures":
                out.update(src for src, _, d in graph.in_edges(target, data=True) if d.get("kind") == "member")
    return out
