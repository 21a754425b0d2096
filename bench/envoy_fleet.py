"""A fleet of real Envoy sidecars on loopback: how long until every proxy is SYNCED, and how long a
routing change takes to be ACKed by all of them.

Run: .venv/bin/python -m bench.envoy_fleet [--services 10] [--pods-per-service 5]
(50 Envoys use about 0.8 GB; every process is stopped by PID at the end.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

from pilot.testing.mesh import LoopbackMesh
from pilot.testing.processes import http_get, wait_until
from pilot.testing.runner import MeshClient, MeshRunner


def _vs(weights: tuple[int, int]) -> str:
    return yaml.safe_dump({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                           "metadata": {"name": "svc0", "namespace": "default"},
                           "spec": {"hosts": ["svc0"], "http": [{"route": [
                               {"destination": {"host": "svc0", "subset": "v1"}, "weight": weights[0]},
                               {"destination": {"host": "svc0", "subset": "v2"}, "weight": weights[1]}]}]}})


DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc0, namespace: default}
spec: {host: svc0, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--pods-per-service", type=int, default=5)
    a = ap.parse_args()
    mesh = LoopbackMesh.build([(f"svc{i}", f"v{j % 2 + 1}") for i in range(a.services)
                               for j in range(a.pods_per_service)])
    cfg = Path(tempfile.mkdtemp(prefix="fleet-"))
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    (cfg / "dr.yaml").write_text(DR)
    (cfg / "vs.yaml").write_text(_vs((100, 0)))
    runner = MeshRunner(cfg, mesh)
    try:
        t0 = time.perf_counter()
        runner.start_control_plane()
        runner.start_apps()
        for pod in mesh.pods:
            runner.start_envoy(pod)
        runner.wait_synced(timeout=300)
        converge = time.perf_counter() - t0
        before = {e["proxy"]: e["types"]["rds"]["acked"] for e in runner.syncz()}
        t1 = time.perf_counter()
        (cfg / "vs.yaml").write_text(_vs((50, 50)))

        def all_acked_new() -> bool:
            now = {e["proxy"]: e["types"]["rds"] for e in runner.syncz()}
            return all(v["acked"] and v["acked"] != before.get(p) and v["status"] == "SYNCED"
                       for p, v in now.items())

        wait_until(all_acked_new, 60, interval=0.01, what="every proxy ACKs the new routes")
        push = time.perf_counter() - t1
        seen_versions = MeshClient(mesh.pods[0]).versions("svc0", 200)
        rejected = sum(runner.envoy_stat(p, "update_rejected") for p in mesh.pods)
        metrics = http_get(f"http://127.0.0.1:{runner.http_port}/metrics")[1].decode()
        print(json.dumps({"envoys": len(mesh.pods), "services": a.services,
                          "start_to_all_synced_s": round(converge, 2),
                          "file_edit_to_all_acked_s": round(push, 3),
                          "split_after_change": dict(seen_versions), "update_rejected": rejected,
                          "push_seconds_metric": next((line for line in metrics.splitlines()
                                                       if line.startswith("meshpilot_last_push_seconds")), "")}))
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
