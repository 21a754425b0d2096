"""The `pilot` command (see docs/cli.md for the stable interface)."""

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
    from pilot.activator.options import activator_options
    from pilot.cli_serve_checks import check_serve_args, raise_start_failure
    from pilot.model.providers import MeshConfigError
    from pilot.server_main import ServeOptions, load_mesh_config, serve_forever

    check_serve_args(args)
    try:
        mesh_config = load_mesh_config(args.mesh_config)
    except MeshConfigError as problem:
        print(f"pilot serve: --mesh-config {problem}", file=sys.stderr)
        return 2
    opts = ServeOptions(config_dirs=args.config or [], xds_address=args.xds_address,
                        http_address=args.http_address, mesh_config=mesh_config,
                        debounce_after=args.debounce, kube=args.kube, kubeconfig=args.kubeconfig,
                        kube_context=args.context,
                        namespaces=tuple(n for n in (args.namespaces or "").split(",") if n),
                        webhook_address=args.webhook_address, webhook_cert_dir=args.webhook_cert_dir,
                        security=_security_options(args), ratelimit_address=args.ratelimit_address,
                        ratelimit_redis=args.ratelimit_redis, activator=activator_options(args))
    try:
        opts.leader = _leader_options(args)
    except ValueError as problem:
        print(f"pilot serve: {problem}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve_forever(opts))
    except Exception as exc:
        raise_start_failure(exc)
        raise
    return 0


def _leader_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import os

    from pilot.model.durations import parse_duration
    from pilot.server_main import LeaderOptions

    times = [parse_duration(t) for t in (args.lease_duration, args.renew_deadline, args.retry_period)]
    if not times[0] > times[1] > 1.2 * times[2] > 0:
        raise ValueError("leader election needs --lease-duration > --renew-deadline > 1.2 x --retry-period > 0")
    return LeaderOptions(enabled=args.leader_election,
                         namespace=args.leader_namespace or os.environ.get("POD_NAMESPACE") or "istio-system",
                         lease_duration=times[0], renew_deadline=times[1], retry_period=times[2])


def _security_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if not args.ca_dir:
        return None
    from pathlib import Path

    from pilot.model.durations import parse_duration
    from pilot.security.wiring import SecurityOptions

    return SecurityOptions(ca_dir=Path(args.ca_dir), cert_ttl_s=int(parse_duration(args.cert_ttl)),
                           require_credentials=args.require_credentials, xds_tls=args.xds_tls)


def _bootstrap(args: argparse.Namespace) -> int:
    from pilot.bootstrap import bootstrap
    from pilot.cli_serve_checks import check_address
    from pilot.model.proxy import NodeIdError

    for address in args.xds_address or []:
        check_address("--xds-address", address)
    if args.admin_address:
        check_address("--admin-address", args.admin_address)
    try:
        token = _proxy_token(args)
        root, san = _xds_tls_trust(args)
        doc = bootstrap(args.node_id, xds_address=args.xds_address or ["127.0.0.1:15010"],
                        admin_address=args.admin_address or "",
                        token=token, xds_root_cert=root, xds_san=san, delta=args.delta,
                        labels=_labels(args.label or []), workload_name=args.workload_name,
                        stats_port=args.stats_port, service_cluster=args.service_cluster,
                        interception_mode="REDIRECT" if args.capture else "")
    except (NodeIdError, LookupError, ValueError) as exc:
        print(f"pilot bootstrap: {exc}", file=sys.stderr)
        return 2
    text = yaml.safe_dump(doc, sort_keys=False)
    if args.output and args.output != "-":
        from pilot.cli_errors import write_output

        write_output(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _labels(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise ValueError(f"--label {pair!r} must be KEY=VALUE")
        out[key] = value
    return out


def _proxy_token(args: argparse.Namespace) -> str:
    """With --ca-dir: a credential for the node, its service account taken from the Pod in --config."""
    if not args.ca_dir:
        return ""
    from pathlib import Path

    from pilot.model.durations import parse_duration
    from pilot.model.proxy import NodeId
    from pilot.security.credentials import issue_proxy_token, pod_service_account

    if not args.config:
        raise ValueError("--ca-dir needs --config DIR to look up the pod's service account")
    node = NodeId.parse(args.node_id)
    sa = pod_service_account(args.config, node.namespace, node.pod)
    return issue_proxy_token(Path(args.ca_dir), args.node_id, sa, int(parse_duration(args.token_ttl)))


def _xds_tls_trust(args: argparse.Namespace) -> tuple[str, str]:
    """(root certificate file, control plane SPIFFE id) for --xds-tls; empty without it."""
    if not args.xds_tls:
        return "", ""
    if not args.ca_dir:
        raise ValueError("--xds-tls needs --ca-dir (the mesh root certificate is read from it)")
    from pathlib import Path

    from pilot.ca.authority import ROOT_CERT_FILE
    from pilot.security.xds_tls import control_plane_spiffe_id

    return str((Path(args.ca_dir) / ROOT_CERT_FILE).resolve()), control_plane_spiffe_id(args.trust_domain)


def _validate(args: argparse.Namespace) -> int:
    from pilot.cli_errors import require_paths
    from pilot.sources.yaml_files import load_paths
    from pilot.validation import validate_document, validate_resource

    require_paths(args.paths)
    resources, findings, _ = load_paths(args.paths, validate_document)
    for r in resources:
        findings.extend(validate_resource(r))
    findings.extend(_envoy_filter_value_findings(resources))
    if args.output == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
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

    from pilot.cli_proxy_config import ProxyConfigError, server_json

    try:
        rows = server_json(args.server, "/debug/syncz")
        if not isinstance(rows, list) or not all(isinstance(r, dict) and "proxy" in r for r in rows):
            raise ProxyConfigError(f"{args.server}: /debug/syncz is not a proxy list (is it pilot serve?)")
    except ProxyConfigError as exc:
        print(f"pilot proxy-status: {exc}", file=sys.stderr)
        return 1
    table = Table(title="proxy status")
    table.add_column("NAME", overflow="fold")
    for t in ("cds", "lds", "eds", "rds", "sds"):
        table.add_column(t.upper(), overflow="fold")
    for row in sorted(rows, key=lambda r: r["proxy"]):
        cells = []
        for t in ("cds", "lds", "eds", "rds", "sds"):
            st = (row.get("types") or {}).get(t)
            cells.append("IGNORED" if not st else st["status"] + (f" ({st.get('error')})" if st.get("error")
                                                                  else ""))
        parts = row["proxy"].split("~")
        table.add_row(parts[2] if len(parts) == 4 else row["proxy"], *cells)
    Console().print(table)
    return 0


def _proxy_config(args: argparse.Namespace) -> int:
    from pilot.cli_proxy_config import run_proxy_config

    return run_proxy_config(args)


def _graph(args: argparse.Namespace) -> int:
    from pilot.cli_errors import require_paths
    from pilot.graph_render import render_graph

    require_paths(args.config)
    return render_graph(args.config, args.output)


def _demo(args: argparse.Namespace) -> int:
    from pilot.cli_errors import require_paths

    require_paths([args.config] if args.config else [])
    if args.knative:
        from pilot.demo_knative import run_knative_demo

        return run_knative_demo(config=args.config, duration=args.duration, rate=args.rate,
                                rollout_duration=args.rollout_duration)
    from pilot.demo import run_demo

    return run_demo(config=args.config, duration=args.duration, rate=args.rate)


def _whole_seconds(text: str) -> int:
    """A rollout-duration: Knative takes whole seconds only (docs/knative.md, Validation)."""
    from pilot.model.durations import parse_duration

    try:
        seconds = parse_duration(f"{text}s" if text.isdigit() else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds")
    return int(seconds)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pilot", description="meshpilot: a control plane for Envoy sidecars "
                                "that speaks Istio YAML")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the control plane; config files are watched and hot-reloaded")
    s.add_argument("--config", action="append", metavar="DIR", help="directory of YAML (repeatable)")
    s.add_argument("--kube", action="store_true", help="watch Kubernetes (in-cluster config inside a pod)")
    s.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    s.add_argument("--context", metavar="NAME", help="kubeconfig context")
    s.add_argument("--namespaces", metavar="A,B", help="watch only these namespaces")
    s.add_argument("--leader-election", action=argparse.BooleanOptionalAction, default=True,
                   help="with --kube, only the replica holding the Lease writes status (analysis messages)")
    s.add_argument("--leader-namespace", metavar="NS", help="namespace of the Lease (default $POD_NAMESPACE, "
                   "else istio-system)")
    s.add_argument("--lease-duration", default="15s", help="leader election: how long a Lease holds unrenewed")
    s.add_argument("--renew-deadline", default="10s", help="leader election: the leader steps down when it "
                   "could not renew for this long")
    s.add_argument("--retry-period", default="2s", help="leader election: time between attempts")
    s.add_argument("--webhook-address", default="", metavar="HOST:PORT",
                   help="serve the validating admission webhook (POST /validate) over HTTPS here")
    s.add_argument("--webhook-cert-dir", default="", metavar="DIR", help="tls.crt and tls.key for the webhook")
    s.add_argument("--xds-address", default="127.0.0.1:15010")
    s.add_argument("--http-address", default="127.0.0.1:15014")
    s.add_argument("--mesh-config", metavar="FILE")
    s.add_argument("--debounce", type=float, default=0.1, help="quiet period before a push, seconds")
    s.add_argument("--ratelimit-address", default="127.0.0.1:0",
                   help="rate limit service for global RateLimitPolicy rules (port 0: any free port)")
    s.add_argument("--ratelimit-redis", default="", metavar="URL",
                   help="redis://host:port shares global rate limit buckets between replicas")
    s.add_argument("--ca-dir", metavar="DIR", help="run the mesh CA (root created here on first start): "
                   "mTLS, SDS secrets and proxy credentials")
    s.add_argument("--cert-ttl", default="24h", help="workload certificate lifetime (renewed at half-life)")
    s.add_argument("--require-credentials", action=argparse.BooleanOptionalAction, default=True,
                   help="with --ca-dir, refuse xDS streams without a valid proxy credential")
    s.add_argument("--xds-tls", action="store_true", help="with --ca-dir, serve ADS over TLS with a "
                   "certificate from the mesh CA (workload keys travel in SDS over that stream)")
    from pilot.activator.options import add_activator_options

    add_activator_options(s)
    s.set_defaults(func=_serve)

    b = sub.add_parser("bootstrap", help="write an Envoy bootstrap for one sidecar or gateway")
    b.add_argument("--node-id", required=True, help="sidecar~IP~POD.NS~NS.svc.cluster.local")
    b.add_argument("--xds-address", action="append", metavar="HOST:PORT",
                   help="the control plane (default 127.0.0.1:15010); repeat for each replica: the sidecar "
                   "spreads over them and fails over to another when one goes away")
    b.add_argument("--admin-address", default="")
    b.add_argument("--delta", action="store_true", help="incremental (delta) ADS instead of state of the world")
    b.add_argument("--service-cluster", default="", metavar="APP.NS",
                   help="node.cluster, the service name of the proxy's Zipkin spans (Istio: <app>.<namespace>)")
    b.add_argument("--config", action="append", metavar="DIR",
                   help="config holding the Pod (its service account goes into the credential)")
    b.add_argument("--ca-dir", metavar="DIR", help="put a proxy credential signed with this CA dir's key "
                   "into the bootstrap (sent as gRPC metadata on the ADS stream)")
    b.add_argument("--token-ttl", default="168h", help="credential lifetime")
    b.add_argument("--xds-tls", action="store_true", help="connect to the control plane over TLS, trusting "
                   "the root in --ca-dir and only the control plane's SPIFFE id")
    b.add_argument("--trust-domain", default="cluster.local", help="mesh trust domain (for --xds-tls)")
    b.add_argument("--label", action="append", metavar="KEY=VALUE",
                   help="a label of the pod (app, version, ...): names the proxy in its metrics")
    b.add_argument("--workload-name", default="", help="source_workload in metrics (default: the pod name "
                   "less Kubernetes' generated suffixes)")
    b.add_argument("--stats-port", type=int, default=15090,
                   help="serve Prometheus stats on <admin IP>:PORT/stats/prometheus (0: do not)")
    b.add_argument("--capture", action="store_true", help="the pod's traffic is captured by iptables "
                   "(istio-init's REDIRECT to 15001/15006): node metadata INTERCEPTION_MODE=REDIRECT asks "
                   "for Istio's virtualOutbound/virtualInbound layout (docs/captured-layout.md)")
    b.add_argument("-o", "--output", default="-")
    b.set_defaults(func=_bootstrap)

    v = sub.add_parser("validate", help="validate YAML files; exit 1 on any error")
    v.add_argument("paths", nargs="+")
    v.add_argument("-o", "--output", choices=("text", "json"), default="text",
                   help="text: FILE:LINE: KIND NS/NAME: FIELD: message lines; json: a list of findings")
    v.set_defaults(func=_validate)

    ps = sub.add_parser("proxy-status", help="sync status of every connected proxy")
    ps.add_argument("--server", default="http://127.0.0.1:15014")
    ps.set_defaults(func=_proxy_status)

    pc = sub.add_parser("proxy-config", help="resources generated for one proxy")
    pc.add_argument("kind", help="cluster|listener|route|endpoint|secret|all")
    pc.add_argument("pod", help="POD.NAMESPACE or a node id")
    pc.add_argument("--server", default="http://127.0.0.1:15014")
    pc.set_defaults(func=_proxy_config)
    from pilot.cli_proxy_config import add_proxy_config_options

    add_proxy_config_options(pc)

    g = sub.add_parser("graph", help="picture of the mesh graph")
    g.add_argument("--config", action="append", required=True, metavar="DIR")
    g.add_argument("-o", "--output", default="mesh.svg", help="FILE.svg|.png|.dot|.json")
    g.set_defaults(func=_graph)

    d = sub.add_parser("demo", help="the bundled Bookinfo mesh with real Envoys and a live traffic table")
    d.add_argument("--config", default="", help="mesh directory (default: the bundled policies/bookinfo)")
    d.add_argument("--duration", type=float, default=0, help="stop after N seconds (0 = until Ctrl-C)")
    d.add_argument("--rate", type=float, default=200, help="requests per second (all flows together)")
    d.add_argument("--knative", action="store_true", help="Knative Serving instead (policies/knative): a gradual "
                   "rollout, scale to zero and a cold start through the activator")
    d.add_argument("--rollout-duration", type=_whole_seconds, default=10, metavar="DURATION",
                   help="with --knative: the rollout-duration the demo's edit sets (default 10s)")
    d.set_defaults(func=_demo)

    from pilot.cli_policy import add_policy_commands

    add_policy_commands(sub)
    from pilot.cli_dev import add_dev_commands

    add_dev_commands(sub)
    from pilot.cli_describe import add_experimental_commands

    add_experimental_commands(sub)
    from pilot.dashboard.command import add_dashboard_command

    add_dashboard_command(sub)
    from pilot.cli_knative import add_knative_commands

    add_knative_commands(sub)
    from pilot.cli_mesh import add_mesh_commands

    add_mesh_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pilot.cli_errors import run_guarded

    return run_guarded(args.func, args)
