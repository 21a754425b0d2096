"""Simulated Envoy ADS clients for load benchmarks: one gRPC connection and stream per proxy.

Each client subscribes as Envoy 1.40 does (CDS wildcard, EDS for the EDS clusters it got, then LDS
wildcard, RDS for the route names in its listeners) and ACKs every response, in SotW or delta. It keeps
only what the benchmark reports: when each response arrived, of which type, and how many bytes.
A worker process runs many clients on one event loop and answers its parent over a pipe.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

from pilot.testing.xds_refs import route_names
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE

INITIAL = (CLUSTER, ENDPOINT, LISTENER, ROUTE)


@dataclass
class ClientLog:
    node_id: str
    started: float = 0.0
    synced: float = 0.0  # when every initial type was ACKed
    failed: str = ""  # gRPC status of a stream that ended
    initial_bytes: int = 0
    # (monotonic time, short type, resources in the response) for every response
    responses: list[tuple[float, str, int]] = field(default_factory=list)


_SHORT = {CLUSTER: "cds", ENDPOINT: "eds", LISTENER: "lds", ROUTE: "rds"}


class LoadClient:
    def __init__(self, target: str, node_id: str, delta: bool) -> None:
        self.target = target
        self.node = base_pb2.Node(id=node_id, cluster="bench", user_agent_name="envoy")
        self.delta = delta
        self.log = ClientLog(node_id)
        self.names: dict[str, list[str]] = {}
        self.acked: set[str] = set()
        self._versions: dict[str, str] = {}
        self._nonces: dict[str, str] = {}
        self._requests: asyncio.Queue[Any] = asyncio.Queue()
        self._sent_node = False

    async def run(self) -> None:
        self.log.started = time.monotonic()
        options = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", -1)]
        async with grpc.aio.insecure_channel(self.target, options=options) as channel:
            stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
            call = stub.DeltaAggregatedResources(self._request_iter()) if self.delta \
                else stub.StreamAggregatedResources(self._request_iter())
            self._subscribe(CLUSTER, [])
            try:
                async for response in call:
                    self._on_response(response)
            except grpc.aio.AioRpcError as err:
                self.log.failed = err.code().name
            except asyncio.CancelledError:
                call.cancel()
                raise

    async def _request_iter(self) -> Any:
        while True:
            yield await self._requests.get()

    # ---- requests --------------------------------------------------------------------------------
    def _send(self, request: Any) -> None:
        if not self._sent_node:
            request.node.CopyFrom(self.node)
            self._sent_node = True
        self._requests.put_nowait(request)

    def _subscribe(self, type_url: str, names: list[str]) -> None:
        old = self.names.get(type_url)
        self.names[type_url] = names
        if self.delta:
            gone = sorted(set(old or ()) - set(names))
            new = sorted(set(names) - set(old or ()))
            if old is None or new or gone:
                self._send(discovery_pb2.DeltaDiscoveryRequest(
                    type_url=type_url, resource_names_subscribe=new, resource_names_unsubscribe=gone))
        elif old != names:
            self._send(discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=names,
                                                      version_info=self._versions.get(type_url, ""),
                                                      response_nonce=self._nonces.get(type_url, "")))

    # ---- responses -------------------------------------------------------------------------------
    def _on_response(self, response: Any) -> None:
        now = time.monotonic()
        type_url = response.type_url
        self.log.responses.append((now, _SHORT.get(type_url, type_url), len(response.resources)))
        if not self.log.synced:
            self.log.initial_bytes += response.ByteSize()
        if self.delta:
            self._send(discovery_pb2.DeltaDiscoveryRequest(type_url=type_url, response_nonce=response.nonce))
            resources = [r.resource for r in response.resources]
        else:
            self._versions[type_url] = response.version_info
            self._nonces[type_url] = response.nonce
            self._send(discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=self.names.get(type_url, []),
                                                      version_info=response.version_info,
                                                      response_nonce=response.nonce))
            resources = list(response.resources)
        self.acked.add(type_url)
        self._follow(type_url, resources)
        if not self.log.synced and all(t in self.acked for t in INITIAL):
            self.log.synced = now

    def _follow(self, type_url: str, resources: list[Any]) -> None:
        if type_url == CLUSTER:
            eds = []
            for any_msg in resources:
                c = cluster_pb2.Cluster.FromString(any_msg.value)
                if c.type == cluster_pb2.Cluster.EDS:
                    eds.append(c.eds_cluster_config.service_name or c.name)
            if self.delta:  # delta CDS carries only what changed: keep what we had
                eds = list(set(self.names.get(ENDPOINT, [])) | set(eds))
            eds = sorted(eds)
            self._subscribe(ENDPOINT, eds)
        elif type_url == ENDPOINT and LISTENER not in self.names:
            self._subscribe(LISTENER, [])
        elif type_url == LISTENER:
            routes = {n for a in resources for n in route_names(listener_pb2.Listener.FromString(a.value))}
            if self.delta:
                routes |= set(self.names.get(ROUTE, []))
            self._subscribe(ROUTE, sorted(routes))


async def _worker_main(target: str, node_ids: list[str], delta: bool, conn: Any, ramp: float) -> None:
    loop = asyncio.get_running_loop()
    clients = [LoadClient(target, n, delta) for n in node_ids]
    tasks = []
    for i, c in enumerate(clients):
        tasks.append(asyncio.create_task(c.run()))
        if ramp and i % 50 == 49:
            await asyncio.sleep(ramp)
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "logs":
            conn.send([c.log for c in clients])
        elif command == "stop":
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            conn.send("stopped")
            return


def worker(target: str, node_ids: list[str], delta: bool, conn: Any, ramp: float = 0.0) -> None:
    """Entry point of a client worker process."""
    asyncio.run(_worker_main(target, node_ids, delta, conn, ramp))
