"""Initial sync of the kube source: N objects listed (paginated) from the fake API server into the store.

Run from the repository root:  python -m bench.kube_initial_sync [--objects 5000] [--changes 50]
The objects are a Bookinfo-like mix (40 % Pods, 20 % Services, 20 % EndpointSlices, 10 % each
VirtualServices and DestinationRules), seeded directly into the fake server; the clock runs from
`KubeSource.start()` (discovery, paged lists over HTTPS with the real client, conversion, store) until
`synced`. Then single changes are timed from the write to the store's change notification.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from kubernetes import config

from pilot.model.resource import ConfigKey
from pilot.sources.kube import KubeOptions, KubeSource
from pilot.sources.store import ConfigStore
from pilot.testing.kube_apiserver import FakeKubeApiServer

MIX = (("Pod", 0.4), ("Service", 0.2), ("EndpointSlice", 0.2), ("VirtualService", 0.1),
       ("DestinationRule", 0.1))


def document(kind: str, i: int) -> dict[str, object]:
    meta = {"name": f"{kind.lower()}-{i}", "namespace": "bench", "labels": {"app": f"app{i % 100}"}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
                "status": {"phase": "Running", "podIP": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}}
    if kind == "Service":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "spec": {"selector": {"app": f"app{i}"}, "ports": [{"name": "http", "port": 9080}]}}
    if kind == "EndpointSlice":
        return {"apiVersion": "discovery.k8s.io/v1", "kind": kind, "metadata": meta, "addressType": "IPv4",
                "ports": [{"name": "http", "port": 9080}],
                "endpoints": [{"addresses": [f"10.1.{i // 256 % 256}.{i % 256}"]}]}
    route = [{"destination": {"host": f"svc{i}"}}]
    spec: dict[str, object] = ({"hosts": [f"svc{i}"], "http": [{"route": route}]}
                               if kind == "VirtualService" else {"host": f"svc{i}"})
    return {"apiVersion": "networking.istio.io/v1", "kind": kind, "metadata": meta, "spec": spec}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    with FakeKubeApiServer() as api, tempfile.TemporaryDirectory() as tmp:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        counts = {kind: int(args.objects * share) for kind, share in MIX}
        for kind, n in counts.items():
            for i in range(n):
                api.apply(document(kind, i))
        kube = config.new_client_from_config(str(api.write_kubeconfig(Path(tmp) / "kubeconfig")))
        store = ConfigStore()
        source = KubeSource(store, kube, KubeOptions(kinds=(*counts, "Namespace")))
        start = time.perf_counter()
        source.start()
        assert source.wait_synced(300), source.problems()
        elapsed = time.perf_counter() - start
        total = len(store.resources())
        print(f"initial sync: {sum(counts.values())} objects ({total} in store incl. namespaces) "
              f"in {elapsed:.2f} s ({sum(counts.values()) / elapsed:.0f} objects/s)")

        changed = threading.Event()
        target = ConfigKey("VirtualService", "bench", "virtualservice-0")
        store.subscribe(lambda keys: changed.set() if target in keys else None)
        latencies = []
        for n in range(args.changes):
            changed.clear()
            doc = document("VirtualService", 0)
            doc["metadata"]["labels"] = {"rev": str(n)}  # type: ignore[index]
            t0 = time.perf_counter()
            api.apply(doc)
            assert changed.wait(5)
            latencies.append(time.perf_counter() - t0)
        if latencies:
            print(f"write -> store notification over {len(latencies)} changes: median "
                  f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
        source.stop()


if __name__ == "__main__":
    main()
