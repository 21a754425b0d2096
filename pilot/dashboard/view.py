"""The dashboard's graph: Kiali's "versioned app graph" built from the model graph plus live rates.

Nodes: a service (`svc:<fqdn>`), a version of a service (`ver:<fqdn>/<version>`, the pods with that
`version` label), and callers the mesh does not know (`unknown:<name>`). Edges: `route` service ->
version (the VirtualService weight when a route sends there) and `traffic` caller version -> service,
the latter only once the counters show that call. https://kiali.io/docs/features/topology/

Both sidecars of a call count it. Caller -> service edges take the caller's report (`reporter="source"`:
it knows both ends); service -> version edges take the server's (`reporter="destination"`: it knows its
own version, and it also counts callers without a sidecar). Counters without a reporter serve both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from pilot.dashboard.rates import IDLE, Rate, RequestKey, edge_rates

NODE_W, NODE_H, GAP_X, GAP_Y = 170, 44, 90, 22
_REPLICA = re.compile(r"-\d+$")


@dataclass
class _Version:
    id: str
    service: str  # svc node id
    version: str
    labels: dict[str, str]
    pods: list[str] = field(default_factory=list)


@dataclass
class _Mesh:
    """What the model graph says, indexed for the edge look-ups."""

    services: dict[str, dict[str, Any]]  # svc node id -> node data
    versions: dict[str, _Version]
    workload_version: dict[tuple[str, str], str]  # (ns, name or deployment-like alias) -> version node id
    weights: dict[str, list[str]]  # version node id -> route weight labels
    service_routes: set[tuple[str, str]]  # route edges service -> another service


def mesh_view(g: nx.MultiDiGraph, traffic: Mapping[RequestKey, float], seconds: float) -> dict[str, Any]:
    """JSON for the page: nodes with positions, edges with rates. `traffic`: counter increases over
    `seconds` per series (every series the latest scrape holds, zero when idle)."""
    mesh = _index(g)
    unknown: dict[str, str] = {}

    def source_of(key: RequestKey) -> str:
        found = (mesh.workload_version.get((key.source_namespace, key.source_workload))
                 or mesh.workload_version.get(("", key.source_workload)))
        if found:
            return found
        node = f"unknown:{key.source_workload}"
        unknown[node] = key.source_workload
        return node

    traffic_rates = edge_rates(traffic, seconds, lambda k: (source_of(k), f"svc:{k.destination_service}")
                               if k.reporter != "destination" else None)
    version_rates = edge_rates(traffic, seconds,
                               lambda k: (f"svc:{k.destination_service}",
                                          f"ver:{k.destination_service}/{k.destination_version}")
                               if k.reporter != "source" else None)
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for vid, ver in mesh.versions.items():
        edges[(ver.service, vid)] = _edge(ver.service, vid, "route", version_rates.get((ver.service, vid), IDLE),
                                          ", ".join(mesh.weights.get(vid, [])) or None)
    for src, dst in sorted(mesh.service_routes):
        edges[(src, dst)] = _edge(src, dst, "route", IDLE, None)
    for (src, dst), r in traffic_rates.items():
        edges[(src, dst)] = _edge(src, dst, "traffic", r, None)
    nodes: dict[str, dict[str, Any]] = {}
    for sid, data in mesh.services.items():
        nodes[sid] = {"id": sid, "type": "service", "label": data.get("name", sid), "sublabel": data.get(
            "namespace", ""), "pods": []}
    for vid, ver in mesh.versions.items():
        nodes[vid] = {"id": vid, "type": "version", "label": f"{nodes[ver.service]['label']} {ver.version}",
                      "sublabel": ", ".join(ver.pods), "pods": list(ver.pods)}
    for nid, name in unknown.items():
        nodes[nid] = {"id": nid, "type": "unknown", "label": name, "sublabel": "not in the mesh", "pods": []}
    for src, dst in list(edges):  # a destination outside the config (e.g. a removed service)
        for nid in (src, dst):
            if nid not in nodes:
                nodes[nid] = {"id": nid, "type": nid.split(":", 1)[0] if ":" in nid else "unknown",
                              "label": nid.split(":", 1)[-1].split(".")[0], "sublabel": "not in config", "pods": []}
    width, height = layout(nodes, [(e["source"], e["target"]) for e in edges.values()])
    return {"nodes": sorted(nodes.values(), key=lambda n: n["id"]),
            "edges": sorted(edges.values(), key=lambda e: (e["source"], e["target"])),
            "width": width, "height": height, "window_s": round(seconds, 2)}


def _edge(src: str, dst: str, kind: str, r: Rate, weight: str | None) -> dict[str, Any]:
    return {"source": src, "target": dst, "kind": kind, "weight": weight, **r.as_dict()}


def _index(g: nx.MultiDiGraph) -> _Mesh:
    services = {n: d for n, d in g.nodes(data=True) if d.get("type") == "service"}
    versions: dict[str, _Version] = {}
    workload_version: dict[tuple[str, str], str] = {}
    members = sorted((u, v) for u, v, d in g.edges(data=True) if d.get("kind") == "member")
    for wl, svc in members:
        data = g.nodes[wl]
        labels = dict(data.get("labels") or {})
        host = svc.split(":", 1)[1]
        vid = f"ver:{host}/{labels.get('version', 'unknown')}"
        ver = versions.setdefault(vid, _Version(vid, svc, labels.get("version", "unknown"), labels))
        ns, name = wl.split(":", 1)[1].split("/", 1)
        ver.pods.append(name)
        # A caller's own service is the one named by its `app` label; else the first it serves.
        own = services.get(svc, {}).get("name") == labels.get("app")
        for key in ((ns, name), ("", name), (ns, _REPLICA.sub("", name)), ("", _REPLICA.sub("", name))):
            if own or key not in workload_version:
                workload_version[key] = vid
    weights: dict[str, list[str]] = {}
    service_routes: set[tuple[str, str]] = set()
    for u, v, d in g.edges(data=True):
        if d.get("kind") != "route":
            continue
        label = f"{int(d.get('weight', 100))}%" + (" on match" if d.get("conditional") else "")
        if v.startswith("subset:"):
            subset_labels = g.nodes[v].get("labels") or {}
            for vid, ver in versions.items():
                if ver.service == u and all(ver.labels.get(k) == val for k, val in subset_labels.items()):
                    weights.setdefault(vid, []).append(label)
        elif v != u and v in services:
            service_routes.add((u, v))
    return _Mesh(services, versions, workload_version, weights, service_routes)


def layout(nodes: dict[str, dict[str, Any]], edges: list[tuple[str, str]]) -> tuple[int, int]:
    """Left to right by longest path from the callers (cycles share a column); sets x, y on each node."""
    dag = nx.DiGraph()
    dag.add_nodes_from(nodes)
    dag.add_edges_from(e for e in edges if e[0] != e[1])
    cond = nx.condensation(dag)
    rank: dict[int, int] = {}
    for c in nx.topological_sort(cond):
        rank[c] = max((rank[p] + 1 for p in cond.predecessors(c)), default=0)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(rank[cond.graph["mapping"][n]], []).append(n)
    for col, members in columns.items():
        for row, n in enumerate(sorted(members, key=lambda m: (nodes[m]["label"], m))):
            nodes[n]["x"] = 20 + col * (NODE_W + GAP_X)
            nodes[n]["y"] = 20 + row * (NODE_H + GAP_Y)
    width = 40 + max(columns, default=0) * (NODE_W + GAP_X) + NODE_W
    height = 40 + max((len(m) for m in columns.values()), default=1) * (NODE_H + GAP_Y)
    return width, height
