from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import grpc
import pytest
from envoy.config.core.v3 import base_pb2 as core_pb2

from pilot.testing.xds_resources import cluster, direct_response_route, endpoints, http_listener, resource_set
from pilot.xds.cache import ResourceCache
from pilot.xds.server import StreamRefused, XdsHooks, XdsServer


def base_resources() -> dict:
    return resource_set(
        clusters={"a": cluster("a"), "b": cluster("b")},
        endpoints_={"a": endpoints("a", ("127.0.0.1", 1)), "b": endpoints("b")},
        listeners={"http": http_listener("http", "127.0.0.1", 1, "r1")},
        routes={"r1": direct_response_route("r1", "one"), "r2": direct_response_route("r2", "two")},
    )


@dataclass
class Harness:
    server: XdsServer
    cache: ResourceCache
    target: str
    connects: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)


@pytest.fixture
async def xds() -> AsyncIterator[Harness]:
    cache = ResourceCache()
    harness: Harness

    async def on_connect(node: core_pb2.Node, metadata: Mapping[str, str], peer: str) -> None:
        harness.connects.append((node.id, dict(metadata), peer))
        if "x-refuse" in metadata:
            raise StreamRefused(grpc.StatusCode[metadata["x-refuse"]], "refused by test")
        if cache.get(node.id) is None:
            cache.set_node_resources(node.id, base_resources())

    def on_disconnect(node_id: str) -> None:
        harness.disconnects.append(node_id)

    server = XdsServer(cache, XdsHooks(on_connect, on_disconnect))
    port = await server.start("127.0.0.1:0")
    harness = Harness(server, cache, f"127.0.0.1:{port}")
    yield harness
    await server.stop(0)


async def eventually(predicate, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
