"""`pilot graph`: the mesh graph as SVG (a layered picture, no extra dependencies), PNG, DOT or JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import networkx as nx

from pilot.model.snapshot import build_snapshot
from pilot.sources.yaml_files import load_paths

_COLUMNS = {"config": 0, "workload": 1, "service": 2, "subset": 3}
_COLORS = {"config": "#f4e3c1", "workload": "#d7e8f7", "service": "#d9f2d0", "subset": "#ece0f5"}
_EDGE_COLORS = {"route": "#2b7a0b", "member": "#4a78b5", "subset": "#8a5fb0", "configures": "#b08a3c",
                "applies": "#b08a3c"}
_W, _H, _GAP_X, _GAP_Y = 250, 34, 90, 14


def _label(node: str, data: dict) -> str:
    kind = data.get("type", "")
    name = node.split(":", 1)[1]
    if kind == "config":
        return name.replace("/", " ", 1)
    if kind == "service":
        return name.split(".svc.")[0]
    return name


def to_svg(g: nx.MultiDiGraph) -> str:
    cols: dict[int, list[str]] = {i: [] for i in _COLUMNS.values()}
    for n, d in sorted(g.nodes(data=True)):
        cols[_COLUMNS.get(d.get("type", "service"), 2)].append(n)
    pos: dict[str, tuple[float, float]] = {}
    for c, nodes in cols.items():
        for i, n in enumerate(nodes):
            pos[n] = (20 + c * (_W + _GAP_X), 50 + i * (_H + _GAP_Y))
    height = 70 + max((len(v) for v in cols.values()), default=1) * (_H + _GAP_Y)
    width = 40 + len(cols) * (_W + _GAP_X)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    for title, c in _COLUMNS.items():
        out.append(f'<text x="{20 + c * (_W + _GAP_X)}" y="30" font-weight="bold">{title}s</text>')
    for u, v, d in g.edges(data=True):
        if u not in pos or v not in pos:
            continue
        (x1, y1), (x2, y2) = pos[u], pos[v]
        sx = x1 + _W if x2 > x1 else x1
        ex = x2 if x2 > x1 else x2 + _W
        if x1 == x2:
            sx = ex = x1 + _W
        color = _EDGE_COLORS.get(d.get("kind", ""), "#999")
        out.append(f'<path d="M{sx},{y1 + _H / 2} C{(sx + ex) / 2 + (60 if x1 == x2 else 0)},{y1 + _H / 2} '
                   f'{(sx + ex) / 2 + (60 if x1 == x2 else 0)},{y2 + _H / 2} {ex},{y2 + _H / 2}" fill="none" '
                   f'stroke="{color}" stroke-width="1.4" marker-end="url(#a)"/>')
        if d.get("kind") == "route":
            out.append(f'<text x="{(sx + ex) / 2 + (60 if x1 == x2 else 0)}" y="{(y1 + y2) / 2 + _H / 2 - 3}" '
                       f'fill="{color}">{int(d.get("weight", 100))}%</text>')
    for n, (x, y) in pos.items():
        d = g.nodes[n]
        fill = _COLORS.get(d.get("type", ""), "#eee")
        out.append(f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="{fill}" stroke="#666"/>')
        out.append(f'<text x="{x + 8}" y="{y + 21}">{escape(_label(n, d))[:38]}</text>')
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
    resources, findings, _ = load_paths(config_dirs)
    for f in findings:
        print(f.line(), file=sys.stderr)
    g = build_snapshot(resources).graph
    path = Path(output)
    if path.suffix == ".json":
        path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str))
    elif path.suffix == ".dot":
        path.write_text(to_dot(g))
    elif path.suffix == ".svg":
        path.write_text(to_svg(g))
    elif path.suffix == ".png":
        converter = shutil.which("rsvg-convert") or shutil.which("convert")
        if converter is None:
            print("pilot graph: PNG needs rsvg-convert or ImageMagick; write .svg instead", file=sys.stderr)
            return 2
        svg = path.with_suffix(".svg")
        svg.write_text(to_svg(g))
        args = [converter, str(svg), "-o", str(path)] if converter.endswith("rsvg-convert") else \
            [converter, str(svg), str(path)]
        subprocess.run(args, check=True)
    else:
        print(f"pilot graph: unknown output type {path.suffix!r} (use .svg, .png, .dot, .json)", file=sys.stderr)
        return 2
    print(f"wrote {path} ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)")
    return 0
