"""`pilot knative status [--config DIR | --server HOST:PORT]`: Knative Services, Routes and Configurations
with their URL, traffic (resolved revisions and percents), latest created/ready revisions and conditions,
and the revisions meshpilot knows (docs/knative.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


class _Failed(Exception):
    """Reported as one line."""


def add_knative_commands(sub: Any) -> None:
    k = sub.add_parser("knative", help="Knative Serving objects on the mesh")
    ksub = k.add_subparsers(dest="knative_command", required=True)
    st = ksub.add_parser("status", help="URL, traffic, revisions and conditions of Knative Services and Routes")
    where = st.add_mutually_exclusive_group()
    where.add_argument("--config", action="append", metavar="DIR", help="read these files (no server needed)")
    where.add_argument("--server", default="127.0.0.1:15014", metavar="HOST:PORT",
                       help="a running control plane's HTTP address (default 127.0.0.1:15014)")
    st.add_argument("-o", "--output", choices=("table", "json"), default="table")
    st.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    try:
        data = _from_files(args.config) if args.config else _from_server(args.server)
    except _Failed as exc:
        print(f"pilot knative status: {exc}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(data, indent=2))
    else:
        _print_tables(data)
    return 0


def _from_files(paths: list[str]) -> dict[str, Any]:
    from pathlib import Path

    from pilot.cli_policy import load_resources
    from pilot.knative.reconciler import KnativeReconciler, report

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise _Failed(f"no such file or directory: {missing[0]}")
    reconciler = KnativeReconciler(remember_ready=False)
    reconciler(load_resources(paths, quiet=True))
    return report(reconciler)


def _from_server(server: str) -> dict[str, Any]:
    from pilot.testing.processes import http_get

    base = server if "://" in server else f"http://{server}"
    try:
        status, body = http_get(base.rstrip("/") + "/debug/knative")
    except OSError as exc:
        raise _Failed(f"cannot reach {server}: {exc}") from exc
    if status != 200:
        raise _Failed(f"{server} answered HTTP {status} on /debug/knative")
    try:
        return dict(json.loads(body))
    except ValueError as exc:
        raise _Failed(f"{server} answered something that is not JSON: {exc}") from exc


def _print_tables(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    objects = [o for o in data.get("objects", []) if o["kind"] in ("KnativeService", "KnativeRoute")]
    table = Table(title="Knative services and routes")
    for column in ("NAME", "URL", "READY", "LATEST CREATED", "LATEST READY"):
        table.add_column(column, overflow="fold")
    traffic = Table(title="traffic")
    for column in ("NAME", "PERCENT", "REVISION", "LATEST", "TAG", "TAG URL"):
        traffic.add_column(column, justify="right" if column == "PERCENT" else "left", overflow="fold")
    for o in objects:
        st = o["status"]
        name = f"{'ksvc' if o['kind'] == 'KnativeService' else 'route'}/{o['namespace']}/{o['name']}"
        table.add_row(name, st.get("url", ""), _ready(st), st.get("latestCreatedRevisionName", "-"),
                      st.get("latestReadyRevisionName", "-"))
        for t in st.get("traffic", []):
            traffic.add_row(name, f"{t['percent']}%", t["revisionName"], str(t.get("latestRevision", False)),
                            t.get("tag", ""), t.get("url", ""))
    console.print(table)
    console.print(traffic)
    revisions = Table(title="revisions")
    for column in ("NAMESPACE", "NAME", "CONFIGURATION", "GENERATION", "PORT", "READY"):
        revisions.add_column(column)
    for r in data.get("revisions", []):
        revisions.add_row(r["namespace"], r["name"], r["configuration"], str(r["generation"]), str(r["port"]),
                          "True" if r["ready"] else "False")
    console.print(revisions)


def _ready(status: dict[str, Any]) -> str:
    ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    text = str(ready.get("status", "Unknown"))
    problem = next((c for c in status.get("conditions", []) if c["status"] != "True"), None)
    if problem is not None and problem.get("reason"):
        text += f" ({problem['reason']}: {problem.get('message', '')})"
    return text
