"""`pilot graph`: the mesh graph as SVG (a layered picture drawn here), PNG (that SVG rasterised), DOT or JSON."""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path

import networkx as nx

from pilot.cli_errors import write_output
from pilot.model.snapshot import build_snapshot
from pilot.sources.yaml_files import load_paths

_COLORS = {"config": "#f4e3c1", "workload": "#d7e8f7", "service": "#d9f2d0", "subset": "#ece0f5"}
_EDGE_COLORS = {"route": "#2b7a0b", "member": "#4a78b5", "subset": "#b9a3cc", "configures": "#b08a3c",
                "applies": "#b08a3c"}
_W, _H, _GAP_X, _GAP_Y = 230, 30, 110, 12


def _label(node: str, data: dict) -> str:
    kind = data.get("type", "")
    name = node.split(":", 1)[1]
    if kind == "config":
        return name.replace("/", " ", 1)
    if kind == "service":
        return name.split(".svc.")[0]
    if kind == "subset":
        host, _, subset = name.rpartition("/")
        return f"{host.split('.')[0]} / {subset}"
    return name


def _picture_edges(g: nx.MultiDiGraph) -> list[tuple[str, str, str, str | None]]:
    """What the picture shows: routes (service -> subset/service, with weights), subsets a service has,
    and which workloads serve each subset (or the service, when it has none)."""
    edges: list[tuple[str, str, str, str | None]] = []
    members: dict[str, list[str]] = {}
    for u, v, d in g.edges(data=True):
        if d.get("kind") == "member":
            members.setdefault(v, []).append(u)
    routes: dict[tuple[str, str], list[str]] = {}
    for u, v, d in g.edges(data=True):
        if d.get("kind") == "route":
            label = f"{int(d.get('weight', 100))}%" + (" on match" if d.get("conditional") else "")
            routes.setdefault((u, v), []).append(label)
    edges.extend((u, v, "route", ", ".join(labels)) for (u, v), labels in routes.items())
    routed = set(routes)
    for u, v, d in g.edges(data=True):
        if d.get("kind") == "subset":
            if (u, v) not in routed:
                edges.append((u, v, "subset", None))
            labels = g.nodes[v].get("labels") or {}
            for w in members.get(u, []):
                wl = g.nodes[w].get("labels") or {}
                if all(wl.get(k) == val for k, val in labels.items()):
                    edges.append((v, w, "member", None))
    with_subsets = {u for u, _v, d in g.edges(data=True) if d.get("kind") == "subset"}
    for svc, ws in members.items():
        if svc not in with_subsets:
            edges.extend((svc, w, "member", None) for w in ws)
    return edges


def to_svg(g: nx.MultiDiGraph) -> str:
    """Services -> subsets -> workloads, left to right; route weights on the edges."""
    columns = {"service": 0, "subset": 1, "workload": 2}
    cols: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for n, d in sorted(g.nodes(data=True)):
        if d.get("type") in columns:
            cols[columns[d["type"]]].append(n)
    pos = {n: (20 + c * (_W + _GAP_X), 50 + i * (_H + _GAP_Y)) for c, nodes in cols.items()
           for i, n in enumerate(nodes)}
    height = 70 + max((len(v) for v in cols.values()), default=1) * (_H + _GAP_Y)
    width = 40 + len(cols) * (_W + _GAP_X)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    for title, c in (("services", 0), ("subsets (routes with weights)", 1), ("workloads", 2)):
        out.append(f'<text x="{20 + c * (_W + _GAP_X)}" y="30" font-weight="bold">{title}</text>')
    labels: list[str] = []
    for u, v, kind, weight in _picture_edges(g):
        if u not in pos or v not in pos:
            continue
        (x1, y1), (x2, y2) = pos[u], pos[v]
        sx, ex, sy, ey = x1 + _W, x2, y1 + _H / 2, y2 + _H / 2
        mid = (sx + ex) / 2
        dash = ' stroke-dasharray="4 3"' if kind == "subset" else ""
        color = _EDGE_COLORS.get(kind, "#999")
        out.append(f'<path d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" fill="none" stroke="{color}" '
                   f'stroke-width="{2.2 if kind == "route" else 1.3}"{dash} marker-end="url(#a)"/>')
        if weight is not None:
            labels.append(f'<text x="{ex - 8}" y="{ey - 6}" fill="{color}" font-weight="bold" '
                          f'text-anchor="end">{escape(weight)}</text>')
    for n, (x, y) in pos.items():
        d = g.nodes[n]
        out.append(f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" '
                   f'fill="{_COLORS.get(d.get("type", ""), "#eee")}" stroke="#666"/>')
        out.append(f'<text x="{x + 8}" y="{y + 19}">{escape(_label(n, d))[:34]}</text>')
    out.extend(labels)
    out.append("</svg>")
    return "\n".join(out)


def to_dot(g: nx.MultiDiGraph) -> str:
    lines = ["digraph mesh {", "  rankdir=LR; node [shape=box, style=rounded];"]
    for n, d in sorted(g.nodes(data=True)):
        lines.append(f'  "{n}" [label="{_label(n, d)}", fillcolor="{_COLORS.get(d.get("type", ""), "#eee")}", '
                     'style="rounded,filled"];')
    for u, v, d in g.edges(data=True):
        label = f' label="{int(d.get("weight", 100))}%"' if d.get("kind") == "route" else ""
        lines.append(f'  "{u}" -> "{v}" [color="{_EDGE_COLORS.get(d.get("kind", ""), "#999")}"{label}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graph(config_dirs: list[str], output: str) -> int:
    path = Path(output)
    if path.suffix not in (".json", ".dot", ".svg", ".png"):
        print(f"pilot graph: unknown output type {path.suffix!r} (use .svg, .png, .dot, .json)", file=sys.stderr)
        return 2
    resources, findings, _ = load_paths(config_dirs)
    for f in findings:
        print(f.line(), file=sys.stderr)
    g = build_snapshot(resources).graph
    if path.suffix == ".json":
        write_output(path, json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str))
    elif path.suffix == ".dot":
        write_output(path, to_dot(g))
    elif path.suffix == ".svg":
        write_output(path, to_svg(g))
    else:
        write_output(path, to_png(to_svg(g)))
    print(f"wrote {path} ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)")
    return 0


def to_png(svg: str) -> bytes:
    """Rasterised in-process by vl-convert (resvg inside a wheel): no rsvg-convert or ImageMagick needed."""
    import vl_convert

    png: bytes = vl_convert.svg_to_png(svg, scale=1.5)
    return png
