"""`pilot mesh up` where network namespaces are not allowed: the same YAML in the loopback layout.

Without iptables nothing can capture an app's traffic, so each pod gets what loopback-mesh.md describes
(its own 127.x addresses and a `Sidecar` with `captureMode: NONE`, written by `LoopbackMesh`) and the
apps call their sidecar's egress address with the Service name as Host. The user's routing and security
YAML (VirtualService, DestinationRule, PeerAuthentication, AuthorizationPolicy, ...) is used unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from pilot.demo_lifecycle import DemoProcesses
from pilot.demo_startup import DemoError, died, start_mesh
from pilot.testing.mesh import LoopbackMesh, PodSpec, random_block
from pilot.testing.netns_layout import LabLayout, lay_out
from pilot.testing.runner import MeshRunner

LAYOUT_KINDS = frozenset({"Service", "Pod"})  # replaced by the loopback layout's own


def loopback_mesh(layout: LabLayout) -> LoopbackMesh:
    block = random_block()
    mesh = LoopbackMesh()
    replicas: dict[tuple[str, str, str], int] = {}
    for i, p in enumerate(layout.pods, start=10):
        key = (p.namespace, p.app, p.version)
        replicas[key] = replicas.get(key, -1) + 1
        mesh.pods.append(PodSpec(p.app, p.version, i, block, p.namespace, service_account=p.service_account,
                                 replica=replicas[key]))
    for s in layout.services:
        mesh.services[(s.namespace, s.name)] = 9080
    return mesh


def loopback_documents(layout: LabLayout, mesh: LoopbackMesh) -> list[dict[str, Any]]:
    return [*mesh.documents(), *(d for d in layout.documents if d.get("kind") not in LAYOUT_KINDS)]


def run_loopback(docs: list[dict[str, Any]], policies: list[Path], group: DemoProcesses, ca: bool,
                 http_port: int, duration: float) -> int:
    layout = lay_out(docs)
    mesh = loopback_mesh(layout)
    config = group.workdir / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(yaml.safe_dump_all(loopback_documents(layout, mesh), sort_keys=False))
    for i, f in enumerate(policies):
        (config / f"{i:02d}-{f.name}").write_text(f.read_text())
    runner = MeshRunner(config, mesh, group=group, ca_dir=group.workdir / "ca" if ca else None)
    if http_port:
        runner.http_port = http_port
    try:
        start_mesh(runner, group)
    except DemoError as exc:
        print(f"pilot mesh up: {exc}", flush=True)
        return 1
    print(f"pilot mesh up: {len(mesh.pods)} pods on loopback, control plane http://127.0.0.1:{runner.http_port}",
          flush=True)
    for p in mesh.pods:
        print(f"  {p.name}.{p.namespace:<12} app {p.app_address:<20} calls out via http://{p.bind}:9080/ "
              "(Host: SERVICE)", flush=True)
    deadline = time.monotonic() + duration if duration else float("inf")
    while time.monotonic() < deadline:
        dead = group.dead()
        if dead:
            print(f"pilot mesh up: {died(dead[0])}", flush=True)
            return 1
        time.sleep(0.2)
    return 0
