"""`pilot x describe pod POD.NS --config DIR | --kube`: the config that applies to one pod (pilot.describe)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any


class _Failed(Exception):
    """Reported as one line."""


def _describe_pod(args: argparse.Namespace) -> int:
    from pilot.describe import DescribeError, describe_pod
    from pilot.model.snapshot import build_snapshot

    try:
        if not args.config and not args.kube:
            raise _Failed("give --config DIR or --kube")
        resources = _file_resources(args.config or []) + (_kube_resources(args) if args.kube else [])
        lines = describe_pod(build_snapshot(resources), args.pod)
    except (_Failed, DescribeError) as exc:
        print(f"pilot x describe: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def _file_resources(paths: list[str]) -> list[Any]:
    from pathlib import Path

    from pilot.cli_policy import load_resources

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise _Failed(f"no such file or directory: {missing[0]}")
    return load_resources(paths) if paths else []


def _kube_resources(args: argparse.Namespace) -> list[Any]:
    """One list of every kind from the cluster (the watch source, stopped once it has synced)."""
    from kubernetes.config import ConfigException

    from pilot.sources.kube import KubeOptions, KubeSource, api_client_from
    from pilot.sources.store import ConfigStore

    # Stopping the watches leaves more idle connections than urllib3's pool keeps; harmless here.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    store = ConfigStore()
    try:
        src = KubeSource(store, api_client_from(args.kubeconfig, args.context), KubeOptions())
    except (ConfigException, OSError, ValueError) as exc:
        raise _Failed(f"kubeconfig: {exc}") from exc
    src.start()
    try:
        if not src.wait_synced(args.timeout):
            raise _Failed(f"Kubernetes did not sync within {args.timeout:g}s: {src.problems()}")
        return list(store.resources())
    finally:
        src.stop()


def add_experimental_commands(sub: Any) -> None:
    x = sub.add_parser("x", help="experimental commands (as istioctl x)")
    xsub = x.add_subparsers(dest="x_command", required=True)
    d = xsub.add_parser("describe", help="what applies to a workload")
    dsub = d.add_subparsers(dest="describe_kind", required=True)
    pod = dsub.add_parser("pod", help="services, routes, subsets, mTLS and authorization of one pod")
    pod.add_argument("pod", metavar="POD.NAMESPACE")
    pod.add_argument("--config", action="append", metavar="DIR", help="YAML files/dirs (repeatable)")
    pod.add_argument("--kube", action="store_true", help="read the config from Kubernetes (merged with --config)")
    pod.add_argument("--kubeconfig", metavar="FILE")
    pod.add_argument("--context", metavar="NAME")
    pod.add_argument("--timeout", type=float, default=20, help="seconds to wait for Kubernetes to sync")
    pod.set_defaults(func=_describe_pod)
