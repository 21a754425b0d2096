"""`pilot mesh up|down`: Kubernetes + Istio YAML as real pods on this machine (docs/netns-lab.md)."""

from __future__ import annotations

import argparse
from typing import Any


def _up(args: argparse.Namespace) -> int:
    from pilot.mesh_lab import run_up

    return run_up(args.filename, duration=args.duration, ca=args.ca, layout=args.layout,
                  http_port=args.http_port)


def _down(args: argparse.Namespace) -> int:
    from pilot.mesh_lab import run_down

    return run_down(args.id)


def add_mesh_commands(sub: Any) -> None:
    mesh = sub.add_parser("mesh", help="run Kubernetes + Istio YAML as real pods: one network namespace per "
                          "pod, istio-init's iptables capture, real Envoys (root; else the loopback layout)")
    msub = mesh.add_subparsers(dest="mesh_command", required=True)
    u = msub.add_parser("up", help="lay out the YAML's Deployments as pods and run them until Ctrl-C")
    u.add_argument("-f", "--filename", action="append", required=True, metavar="PATH",
                   help="YAML file or directory (repeatable); files without workloads are watched live")
    u.add_argument("--duration", type=float, default=0, help="stop after N seconds (0 = until a signal)")
    u.add_argument("--ca", action=argparse.BooleanOptionalAction, default=True,
                   help="run the mesh CA (mTLS between sidecars)")
    u.add_argument("--layout", choices=("auto", "netns", "loopback"), default="auto",
                   help="netns: namespaces or fail; loopback: never namespaces; auto: netns when allowed")
    u.add_argument("--http-port", type=int, default=15014, help="control plane HTTP on 127.0.0.1 (0: any)")
    u.set_defaults(func=_up)
    d = msub.add_parser("down", help="stop a running `mesh up` and remove whatever a dead one left")
    d.add_argument("--id", default="", help="only the lab with this prefix (mpXXXXXX)")
    d.set_defaults(func=_down)
