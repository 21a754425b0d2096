"""`pilot dev ...`: local stand-ins for a cluster, to try kube mode on one machine."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _kube_apiserver(args: argparse.Namespace) -> int:
    from pilot.testing.dev_kube import DevKubeError, run_kube_apiserver

    try:
        return run_kube_apiserver(args.host, args.port, args.kubeconfig_out, args.load or [])
    except DevKubeError as exc:
        print(f"pilot dev kube-apiserver: {exc}", file=sys.stderr)
        return 1


def _apply(args: argparse.Namespace) -> int:
    from pilot.testing.dev_kube import DevKubeError, apply_documents

    try:
        return apply_documents(args.kubeconfig, args.filename)
    except DevKubeError as exc:
        print(f"pilot dev apply: {exc}", file=sys.stderr)
        return 1


def add_dev_commands(sub: Any) -> None:
    from pilot.testing.dev_kube import DEFAULT_KUBECONFIG

    dev = sub.add_parser("dev", help="local stand-ins for a cluster (try `serve --kube` on one machine)")
    dsub = dev.add_subparsers(dest="dev_command", required=True)
    k = dsub.add_parser("kube-apiserver", help="a Kubernetes API server (list/watch over HTTPS, every kind "
                        "meshpilot reads); writes a kubeconfig for it and runs until Ctrl-C")
    k.add_argument("--host", default="127.0.0.1")
    k.add_argument("--port", type=int, default=6443, help="0: any free port (read it from the kubeconfig)")
    k.add_argument("--kubeconfig-out", default=DEFAULT_KUBECONFIG, metavar="FILE")
    k.add_argument("--load", action="append", metavar="PATH", help="YAML files/dirs to create at start")
    k.set_defaults(func=_kube_apiserver)
    a = dsub.add_parser("apply", help="create or replace the objects in YAML files through the API server")
    a.add_argument("-f", "--filename", action="append", required=True, metavar="PATH")
    a.add_argument("--kubeconfig", default=DEFAULT_KUBECONFIG, metavar="FILE")
    a.set_defaults(func=_apply)
