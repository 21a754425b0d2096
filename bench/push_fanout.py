"""How long one config change takes to reach the xDS cache for N proxies (no gRPC, no Envoy).

Run: .venv/bin/python -m bench.push_fanout [--services 50] [--pods-per-service 4]
Measures snapshot build, per-proxy translation (memoised per ProxyView) and cache update, and the
serialised size per proxy. Results are recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.push import MeshController
from pilot.sources.memory import MemorySource, resources_from_yaml
from pilot.sources.store import ConfigStore
from pilot.testing.mesh import SERVICE_PORT, LoopbackMesh, PodSpec
from pilot.xds.cache import ResourceCache


def mesh_yaml(services: int, pods: int) -> tuple[str, LoopbackMesh]:
    """S services x P pods (alternating v1/v2), 200 pods per /24 block, each with its own Sidecar."""
    mesh = LoopbackMesh()
    replicas: dict[tuple[str, str], int] = {}
    workloads = [(f"svc{i}", f"v{j % 2 + 1}") for i in range(services) for j in range(pods)]
    for n, (service, version) in enumerate(workloads):
        replica = replicas[(service, version)] = replicas.get((service, version), -1) + 1
        mesh.pods.append(PodSpec(service, version, 10 + n % 200, (127, 50, 4 * (n // 200)), replica=replica))
        mesh.services[("default", service)] = SERVICE_PORT
    return mesh.yaml(), mesh


async def run(services: int, pods: int, mtls: bool = False) -> dict[str, float]:
    text, mesh = mesh_yaml(services, pods)
    store = ConfigStore()
    src = MemorySource(store)
    src.set_all(resources_from_yaml(text))
    cache = ResourceCache()
    # mtls: what `pilot serve --ca-dir` translates: mTLS chains, auto-mTLS clusters, endpoint labels
    ctl = MeshController(store, cache, MeshConfig(workload_mtls=mtls))
    ctl.rebuild_snapshot()
    for p in mesh.pods:
        ctl.nodes[p.node_id] = NodeId.parse(p.node_id)
    t0 = time.perf_counter()
    ctl.snapshot = None
    await ctl.push_all()
    first = time.perf_counter() - t0
    # A routing change: one VirtualService added.
    src.store.upsert("memory", resources_from_yaml(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\n"
        "spec: {hosts: [svc0], http: [{route: [{destination: {host: svc0}, weight: 100}]}]}\n")[0])
    t0 = time.perf_counter()
    await ctl.push_all()
    second = time.perf_counter() - t0
    size = sum(len(r.framed) for t in cache.get(mesh.pods[0].node_id).types.values()  # type: ignore[union-attr]
               for r in t.resources.values())
    return {"proxies": len(mesh.pods), "services": services, "full_push_s": first, "change_push_s": second,
            "translations": ctl.stats.translations, "bytes_per_proxy": size}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--pods-per-service", type=int, default=4)
    ap.add_argument("--mtls", action="store_true", help="translate as with --ca-dir (security overlay)")
    a = ap.parse_args()
    r = asyncio.run(run(a.services, a.pods_per_service, a.mtls))
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
