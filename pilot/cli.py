"""The `pilot` command (see shared/design/cli.md for the stable interface)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from pilot.model.findings import Finding
    from pilot.model.resource import Resource


def _serve(args: argparse.Namespace) -> int:
    from pilot.server_main import ServeOptions, load_mesh_config, serve_forever

    opts = ServeOptions(config_dirs=args.config or [], xds_address=args.xds_address,
                        http_address=args.http_address, mesh_config=load_mesh_config(args.mesh_config),
                        debounce_after=args.debounce, ratelimit_address=args.ratelimit_address,
                        ratelimit_redis=args.ratelimit_redis)
    asyncio.run(serve_forever(opts))
    return 0


def _bootstrap(args: argparse.Namespace) -> int:
    from pilot.bootstrap import bootstrap
    from pilot.model.proxy import NodeIdError

    try:
        doc = bootstrap(args.node_id, xds_address=args.xds_address, admin_address=args.admin_address or "",
                        delta=args.delta)
    except NodeIdError as exc:
        print(f"pilot bootstrap: {exc}", file=sys.stderr)
        return 2
    text = yaml.safe_dump(doc, sort_keys=False)
    if args.output and args.output != "-":
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from pilot.server_main import make_document_check, make_validator
    from pilot.sources.yaml_files import load_paths

    resources, findings, _ = load_paths(args.paths, make_document_check())
    validator = make_validator()
    if validator:
        for r in resources:
            findings.extend(validator(r))
    findings.extend(_envoy_filter_value_findings(resources))
    for f in findings:
        print(f.line())
    errors = sum(1 for f in findings if f.is_error)
    print(f"{len(resources)} resources, {errors} errors", file=sys.stderr)
    return 1 if errors else 0


def _envoy_filter_value_findings(resources: Sequence[Resource]) -> list[Finding]:
    """EnvoyFilter patch values against Envoy's types (unknown @type, unknown fields), as the control
    plane would report them when it leaves such a patch out."""
    from pilot.translate.envoyfilter import patch_value_findings

    return [f for r in resources if r.kind == "EnvoyFilter" for f in patch_value_findings(r)]


def _proxy_status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pilot.testing.processes import http_get

    status, body = http_get(args.server.rstrip("/") + "/debug/syncz")
    if status != 200:
        print(f"pilot proxy-status: {args.server} answered {status}", file=sys.stderr)
        return 1
    rows = json.loads(body)
    table = Table(title="proxy status")
    table.add_column("NAME")
    for t in ("cds", "lds", "eds", "rds", "sds"):
        table.add_column(t.upper())
    for row in sorted(rows, key=lambda r: r["proxy"]):
        cells = []
        for t in ("cds", "lds", "eds", "rds", "sds"):
            st = row["types"].get(t)
            cells.append("IGNORED" if not st else st["status"] + (f" ({st.get('error')})" if st.get("error")
                                                                  else ""))
        table.add_row(row["proxy"], *cells)
    Console().print(table)
    return 0


def _proxy_config(args: argparse.Namespace) -> int:
    from pilot.testing.processes import http_get

    status, body = http_get(args.server.rstrip("/") + "/debug/syncz")
    proxies = [r["proxy"] for r in json.loads(body)] if status == 200 else []
    target = next((p for p in proxies if p.split("~")[2] == args.pod or p == args.pod), args.pod)
    status, body = http_get(args.server.rstrip("/") + f"/debug/config_dump?proxy={target}")
    if status != 200:
        print(body.decode(), file=sys.stderr)
        return 1
    dump = json.loads(body)
    kinds = {"cluster": "Cluster", "clusters": "Cluster", "listener": "Listener", "listeners": "Listener",
             "route": "RouteConfiguration", "routes": "RouteConfiguration",
             "endpoint": "ClusterLoadAssignment", "endpoints": "ClusterLoadAssignment",
             "secret": "Secret", "secrets": "Secret", "all": ""}
    want = kinds.get(args.kind, args.kind)
    out = {t: v for t, v in dump.items() if not want or t.endswith("." + want)}
    print(json.dumps(out, indent=2))
    return 0


def _graph(args: argparse.Namespace) -> int:
    from pilot.graph_render import render_graph

    return render_graph(args.config, args.output)


def _demo(args: argparse.Namespace) -> int:
    from pilot.demo import run_demo

    return run_demo(config=args.config, duration=args.duration, rate=args.rate)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pilot", description="meshpilot: a control plane for Envoy sidecars "
                                "that speaks Istio YAML")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the control plane; config files are watched and hot-reloaded")
    s.add_argument("--config", action="append", metavar="DIR", help="directory of YAML (repeatable)")
    s.add_argument("--kube", action="store_true", help="watch Kubernetes")
    s.add_argument("--xds-address", default="127.0.0.1:15010")
    s.add_argument("--http-address", default="127.0.0.1:15014")
    s.add_argument("--mesh-config", metavar="FILE")
    s.add_argument("--debounce", type=float, default=0.1, help="quiet period before a push, seconds")
    s.add_argument("--ratelimit-address", default="127.0.0.1:0",
                   help="rate limit service for global RateLimitPolicy rules (port 0: any free port)")
    s.add_argument("--ratelimit-redis", default="", metavar="URL",
                   help="redis://host:port shares global rate limit buckets between replicas")
    s.set_defaults(func=_serve)

    b = sub.add_parser("bootstrap", help="write an Envoy bootstrap for one sidecar or gateway")
    b.add_argument("--node-id", required=True, help="sidecar~IP~POD.NS~NS.svc.cluster.local")
    b.add_argument("--xds-address", default="127.0.0.1:15010")
    b.add_argument("--admin-address", default="")
    b.add_argument("--delta", action="store_true", help="incremental (delta) ADS instead of state of the world")
    b.add_argument("--config", metavar="DIR", help="(reserved) config used to check the pod exists")
    b.add_argument("-o", "--output", default="-")
    b.set_defaults(func=_bootstrap)

    v = sub.add_parser("validate", help="validate YAML files; exit 1 on any error")
    v.add_argument("paths", nargs="+")
    v.set_defaults(func=_validate)

    ps = sub.add_parser("proxy-status", help="sync status of every connected proxy")
    ps.add_argument("--server", default="http://127.0.0.1:15014")
    ps.set_defaults(func=_proxy_status)

    pc = sub.add_parser("proxy-config", help="resources generated for one proxy")
    pc.add_argument("kind", help="cluster|listener|route|endpoint|secret|all")
    pc.add_argument("pod", help="POD.NAMESPACE or a node id")
    pc.add_argument("--server", default="http://127.0.0.1:15014")
    pc.set_defaults(func=_proxy_config)

    g = sub.add_parser("graph", help="picture of the mesh graph")
    g.add_argument("--config", action="append", required=True, metavar="DIR")
    g.add_argument("-o", "--output", default="mesh.svg", help="FILE.svg|.png|.dot|.json")
    g.set_defaults(func=_graph)

    d = sub.add_parser("demo", help="the bundled Bookinfo mesh with real Envoys and a live traffic table")
    d.add_argument("--config", default="", help="mesh directory (default: the bundled policies/bookinfo)")
    d.add_argument("--duration", type=float, default=0, help="stop after N seconds (0 = until Ctrl-C)")
    d.add_argument("--rate", type=float, default=50, help="requests per second")
    d.set_defaults(func=_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args))
