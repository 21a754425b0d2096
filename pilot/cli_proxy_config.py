"""`pilot proxy-config KIND POD[.NS]`: istioctl-like tables (or the full resources) of one proxy's xDS.

Two sources with the same output: a running server's `/debug/config_dump` (default, `--server`), or the
file config translated here (`--config DIR`), which needs no server and names the DestinationRule and
VirtualService behind each host.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from collections.abc import Callable
from typing import Any, cast

import yaml

from pilot.cli_errors import os_error_text
from pilot.proxyconfig.dump import KIND_ALIASES, ConfigDump

KINDS_HELP = "cluster|listener|route|endpoint|secret (plural too) or all"


class ProxyConfigError(Exception):
    """Reported as one line on stderr."""


def add_proxy_config_options(pc: argparse.ArgumentParser) -> None:
    """Options on top of KIND POD --server, which pilot/cli.py declares."""
    pc.add_argument("--config", action="append", metavar="DIR",
                    help="translate these files offline instead of asking a server")
    pc.add_argument("--proxy-type", choices=("sidecar", "router"), default="sidecar",
                    help="with --config: router translates the pod as a gateway")
    pc.add_argument("-o", "--output", choices=("short", "json", "yaml"), default="short",
                    help="short: a summary table; json|yaml: the full resources")
    pc.add_argument("--fqdn", default="", help="cluster: service FQDN (or its short name)")
    pc.add_argument("--port", type=int, help="cluster, listener, endpoint: port")
    pc.add_argument("--subset", default="", help="cluster: subset name")
    pc.add_argument("--direction", default="", choices=("inbound", "outbound"), help="cluster: direction")
    pc.add_argument("--name", default="", help="resource name (route: the route configuration, e.g. 9080)")
    pc.add_argument("--address", default="", help="listener, endpoint: IP address")
    pc.add_argument("--cluster", default="", help="endpoint: cluster name")
    pc.add_argument("--status", default="", help="endpoint: health status (HEALTHY, UNHEALTHY, ...)")


def run_proxy_config(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BrokenPipeError:
        raise  # the reader went away (`| head`): pilot.cli_errors ends quietly
    except (ProxyConfigError, ValueError, OSError) as exc:
        print(f"pilot proxy-config: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from pilot.proxyconfig.tables import Filters, filtered_resources, summarize

    kind = KIND_ALIASES.get(args.kind)
    if kind is None:
        raise ProxyConfigError(f"unknown kind {args.kind!r} (want {KINDS_HELP})")
    dump, dr_names, vs_names = _offline(args) if args.config else (_from_server(args), _none, _none)
    filters = Filters(fqdn=args.fqdn, port=args.port, subset=args.subset, direction=args.direction,
                      name=args.name, address=args.address, cluster=args.cluster, status=args.status)
    if kind == "all":
        if filters.given():
            raise ProxyConfigError("filters need a single kind")
        _print_structured(dict(dump), args.output if args.output != "short" else "json")
        return 0
    summary = summarize(dump, kind, filters, dr_names, vs_names)
    if args.output != "short":
        _print_structured(filtered_resources(dump, kind, summary), args.output)
        return 0
    _print_table(summary.columns, [r.cells for r in summary.rows])
    return 0


def _none(_host: str) -> str:
    return ""


def _offline(args: argparse.Namespace) -> tuple[ConfigDump, Callable[[str], str], Callable[[str], str]]:
    from pilot.cli_policy import load_resources
    from pilot.model.snapshot import build_snapshot
    from pilot.proxyconfig.offline import translate_pod

    missing = [p for p in args.config if not _exists(p)]
    if missing:
        raise ProxyConfigError(f"no such file or directory: {missing[0]}")
    proxy = translate_pod(build_snapshot(load_resources(args.config)), args.pod, args.proxy_type)
    return proxy.dump, proxy.destination_rule, proxy.virtual_service


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).exists()


def server_base(server: str) -> str:
    """`HOST:PORT` means `http://HOST:PORT`, as for istioctl's --server-style flags."""
    server = server.rstrip("/")
    return server if "://" in server else f"http://{server}"


def _from_server(args: argparse.Namespace) -> ConfigDump:
    rows = server_json(args.server, "/debug/syncz")
    proxies = [r["proxy"] for r in rows if isinstance(r, dict) and "proxy" in r] if isinstance(rows, list) else []
    target = next((p for p in proxies if _pod_of(p) in (args.pod, f"{args.pod}.default") or p == args.pod),
                  args.pod)
    dump = server_json(args.server, f"/debug/config_dump?proxy={target}")
    if not isinstance(dump, dict):
        raise ProxyConfigError(f"{args.server}: /debug/config_dump is not a config dump (is it pilot serve?)")
    return cast(ConfigDump, dump)


def server_json(server: str, path: str) -> Any:
    """GET `path` from a running `pilot serve` HTTP address and parse its JSON; every failure (refused,
    timed out, not HTTP, not JSON, an error status) is a ProxyConfigError naming the server."""
    from pilot.testing.processes import http_get

    try:
        status, body = http_get(server_base(server) + path)
    except (ValueError, http.client.InvalidURL) as exc:  # a URL urllib cannot parse
        raise ProxyConfigError(f"bad --server {server!r}: {exc} (want HOST:PORT or http://HOST:PORT)") from exc
    except http.client.HTTPException as exc:  # e.g. the xDS (gRPC) port: HTTP/2 frames, no HTTP/1 status
        raise ProxyConfigError(f"cannot reach {server}: not an HTTP/1 answer ({_HTTP_HINT})") from exc
    except OSError as exc:
        raise ProxyConfigError(f"cannot reach {server}: {os_error_text(exc)}") from exc
    try:
        doc = json.loads(body)
    except ValueError:
        if status == 200:
            raise ProxyConfigError(f"{server} answered {path.split('?')[0]} with something other than JSON "
                                   f"({_HTTP_HINT})") from None
        doc = None
    if status != 200:
        message = doc.get("error") if isinstance(doc, dict) else None
        raise ProxyConfigError(f"{server} answered {status}: {(message or body.decode(errors='replace')).strip()}")
    return doc


_HTTP_HINT = "want pilot serve's --http-address, default 127.0.0.1:15014"


def _pod_of(node_id: str) -> str:
    parts = node_id.split("~")
    return parts[2] if len(parts) == 4 else node_id


def _print_structured(doc: object, output: str) -> None:
    if output == "yaml":
        # Through JSON first: proto JSON holds OrderedDicts (Any fields) that safe_dump refuses.
        sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False))
    else:
        print(json.dumps(doc, indent=2))


def _print_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Plain columns like istioctl's, never truncated or wrapped whatever the terminal width."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for c in columns:
        table.add_column(c, no_wrap=True, overflow="fold")
    for r in rows:
        table.add_row(*r)
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    Console(width=sum(widths) + 3 * len(widths) + 2, soft_wrap=False).print(table)
