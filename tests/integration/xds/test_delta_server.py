"""Delta ADS and the per-type services over real gRPC on loopback."""

from __future__ import annotations

import grpc
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import discovery_pb2

from pilot.testing.ads_client import DeltaAdsClient, make_node
from pilot.testing.xds_resources import cluster
from pilot.xds.types import CLUSTER, ENDPOINT
from tests.integration.xds.conftest import Harness, base_resources, eventually


async def test_delta_wildcard_updates_and_removals(xds: Harness) -> None:
    async with DeltaAdsClient(xds.target, "d1") as client:
        await client.request(CLUSTER)
        first = await client.recv()
        assert sorted(r.name for r in first.resources) == ["a", "b"]
        assert all(r.version for r in first.resources)
        await client.ack(first)
        await client.expect_nothing()
        xds.cache.set_node_resources(
            "d1", {**base_resources(), CLUSTER: {"a": cluster("a", connect_timeout="5s")}}
        )
        update = await client.recv()
        assert [r.name for r in update.resources] == ["a"]
        assert list(update.removed_resources) == ["b"]
        await client.ack(update)
        await eventually(lambda: xds.server.sync_status()[0]["types"]["cds"]["status"] == "SYNCED")


async def test_delta_nack_is_not_resent_and_stale_nonce_still_subscribes(xds: Harness) -> None:
    async with DeltaAdsClient(xds.target, "d1") as client:
        await client.request(ENDPOINT, ["a"])
        first = await client.recv()
        await client.nack(first, "nope")
        await client.expect_nothing()
        assert xds.server.sync_status()[0]["types"]["eds"]["error"] == "nope"
        await client.request(ENDPOINT, ["b"], nonce="stale-nonce")
        added = await client.recv()
        assert [r.name for r in added.resources] == ["b"]


async def test_delta_initial_resource_versions(xds: Harness) -> None:
    async with DeltaAdsClient(xds.target, "d1") as client:
        await client.request(CLUSTER)
        held = {r.name: r.version for r in (await client.recv()).resources}
    async with DeltaAdsClient(xds.target, "d1") as again:
        await again.request(CLUSTER, initial_versions={**held, "b": "stale", "old": "x"})
        response = await again.recv()
        assert [r.name for r in response.resources] == ["b"]
        assert list(response.removed_resources) == ["old"]


async def test_per_type_cluster_service_without_type_url(xds: Harness) -> None:
    async with grpc.aio.insecure_channel(xds.target) as channel:
        call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters()
        await call.write(discovery_pb2.DiscoveryRequest(node=make_node("p1", "c", None)))
        response = await call.read()
        assert response.type_url == CLUSTER
        assert len(response.resources) == 2
        call.cancel()
