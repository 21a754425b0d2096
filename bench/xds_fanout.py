"""Fan-out cost of the xDS core: encode time per response, and one push to N in-process ADS clients.

Run: .venv/bin/python -m bench.xds_fanout [clients] [clusters]
"""

from __future__ import annotations

import asyncio
import sys
import time

from envoy.service.discovery.v3 import discovery_pb2

from pilot.testing.ads_client import AdsClient
from pilot.testing.xds_resources import cluster, direct_response_route, endpoints, http_listener, resource_set
from pilot.xds.cache import ResourceCache
from pilot.xds.responses import SotwResponse
from pilot.xds.server import XdsHooks, XdsServer
from pilot.xds.types import CLUSTER, ROUTE


def fleet_resources(clusters: int, body: str) -> dict:
    return resource_set(
        clusters={f"c{i}": cluster(f"c{i}") for i in range(clusters)},
        endpoints_={f"c{i}": endpoints(f"c{i}", ("127.0.0.1", 1000 + i)) for i in range(clusters)},
        listeners={"http": http_listener("http", "127.0.0.1", 1, "r")},
        routes={"r": direct_response_route("r", body)},
    )


def encode_bench(clusters: int, rounds: int = 200) -> None:
    cache = ResourceCache()
    cache.set_node_resources("n", fleet_resources(clusters, "x"))
    typed = cache.get("n").of(CLUSTER)  # type: ignore[union-attr]
    anys = [r.any for r in typed.resources.values()]
    start = time.perf_counter()
    for _ in range(rounds):
        SotwResponse(CLUSTER, typed.version, "1", tuple(typed.resources.values())).encode()
    spliced = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        message = discovery_pb2.DiscoveryResponse(version_info=typed.version, resources=anys, nonce="1")
        message.SerializeToString()
    proto = (time.perf_counter() - start) / rounds
    print(f"CDS response, {clusters} clusters: spliced {spliced * 1e6:.0f} us, protobuf {proto * 1e6:.0f} us")


async def fanout_bench(clients: int, clusters: int) -> None:
    cache = ResourceCache()
    shared = fleet_resources(clusters, "v1")

    async def on_connect(node, metadata, peer) -> None:  # type: ignore[no-untyped-def]
        cache.set_node_resources(node.id, shared)

    server = XdsServer(cache, XdsHooks(on_connect))
    port = await server.start()
    fleet = [AdsClient(f"127.0.0.1:{port}", f"n{i}") for i in range(clients)]
    start = time.perf_counter()
    for c in fleet:
        await c.connect()
        await c.start_auto()
    for c in fleet:
        await c.wait_acked(timeout=60)
    took = time.perf_counter() - start
    print(f"{clients} clients x {clusters} clusters: all 4 types ACKed in {took:.2f} s")
    updated = fleet_resources(clusters, "v2")
    start = time.perf_counter()
    for i in range(clients):
        cache.set_node_resources(f"n{i}", updated)
    version = cache.get("n0").version(ROUTE)  # type: ignore[union-attr]
    for c in fleet:
        await c.wait_for(lambda cl: cl.acked.get(ROUTE) == version, 60)
    print(f"one RDS push to {clients} clients, all ACKed in {(time.perf_counter() - start) * 1000:.0f} ms")
    for c in fleet:
        await c.close()
    await asyncio.sleep(0.2)  # let the closed streams wind down before the server goes
    await server.stop(1)


if __name__ == "__main__":
    n_clients = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    n_clusters = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    encode_bench(n_clusters)
    asyncio.run(fanout_bench(n_clients, n_clusters))
