"""`pilot x describe pod POD.NS --config DIR`: the config that applies to one pod (pilot.describe)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _describe_pod(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pilot.cli_policy import load_resources
    from pilot.describe import DescribeError, describe_pod
    from pilot.model.snapshot import build_snapshot

    missing = [p for p in args.config if not Path(p).exists()]
    if missing:
        print(f"pilot x describe: no such file or directory: {missing[0]}", file=sys.stderr)
        return 1
    try:
        lines = describe_pod(build_snapshot(load_resources(args.config)), args.pod)
    except DescribeError as exc:
        print(f"pilot x describe: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def add_experimental_commands(sub: Any) -> None:
    x = sub.add_parser("x", help="experimental commands (as istioctl x)")
    xsub = x.add_subparsers(dest="x_command", required=True)
    d = xsub.add_parser("describe", help="what applies to a workload")
    dsub = d.add_subparsers(dest="describe_kind", required=True)
    pod = dsub.add_parser("pod", help="services, routes, subsets, mTLS and authorization of one pod")
    pod.add_argument("pod", metavar="POD.NAMESPACE")
    pod.add_argument("--config", action="append", required=True, metavar="DIR", help="YAML files/dirs")
    pod.set_defaults(func=_describe_pod)
