"""SotW ADS over real gRPC on loopback, with the test client."""

from __future__ import annotations

import grpc
import pytest

from pilot.testing.ads_client import AdsClient, decode
from pilot.testing.xds_resources import cluster, direct_response_route, endpoints, http_listener, resource_set
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE
from tests.integration.xds.conftest import Harness, base_resources, eventually


def syncz(xds: Harness, node: str) -> dict:
    return next(p["types"] for p in xds.server.sync_status() if p["proxy"] == node)


async def test_wildcard_cds_then_ack_is_synced(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        await client.request(CLUSTER)
        response = await client.recv()
        assert response.version_info == xds.cache.get("n1").version(CLUSTER)
        assert sorted(decode(r).name for r in response.resources) == ["a", "b"]
        await client.ack(response)
        await client.expect_nothing()
        types = syncz(xds, "n1")
        assert types["cds"] == {
            "sent": response.version_info,
            "acked": response.version_info,
            "status": "SYNCED",
        }
        assert types["eds"]["status"] == types["sds"]["status"] == "NOT_SENT"
    assert xds.connects[0][0] == "n1"
    await eventually(lambda: xds.disconnects == ["n1"])
    assert xds.server.metrics()["streams_active"] == 0


async def test_nack_is_recorded_and_not_resent_until_the_config_changes(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        await client.request(ROUTE, ["r1"])
        good = await client.recv()
        await client.ack(good)
        await eventually(lambda: syncz(xds, "n1")["rds"]["status"] == "SYNCED")
        xds.cache.set_node_resources(
            "n1", {**base_resources(), ROUTE: {"r1": direct_response_route("r1", "bad")}}
        )
        bad = await client.recv()
        await client.nack(bad, "regex does not compile")
        await client.expect_nothing()
        rds = syncz(xds, "n1")["rds"]
        assert rds == {
            "sent": bad.version_info,
            "acked": good.version_info,
            "status": "ERROR",
            "error": "regex does not compile",
        }
        assert xds.server.metrics()['nacks_total{type="rds"}'] == 1
        xds.cache.set_node_resources(
            "n1", {**base_resources(), ROUTE: {"r1": direct_response_route("r1", "fixed")}}
        )
        fixed = await client.recv()
        assert fixed.version_info not in (good.version_info, bad.version_info)
        await client.ack(fixed)
        await eventually(lambda: syncz(xds, "n1")["rds"]["status"] == "SYNCED")


async def test_cache_update_is_pushed_in_make_before_break_order(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        for type_url, names in ((ROUTE, ["r1"]), (LISTENER, []), (ENDPOINT, ["a"]), (CLUSTER, [])):
            await client.request(type_url, names)
            await client.ack(await client.recv())
        xds.cache.set_node_resources(
            "n1",
            resource_set(
                clusters={"a": cluster("a", connect_timeout="3s")},
                endpoints_={"a": endpoints("a", ("127.0.0.2", 2))},
                listeners={"http": http_listener("http", "127.0.0.1", 2, "r1")},
                routes={"r1": direct_response_route("r1", "new")},
            ),
        )
        order = [(await client.recv()).type_url for _ in range(4)]
        assert order == [CLUSTER, ENDPOINT, LISTENER, ROUTE]


async def test_stale_nonce_is_ignored_and_counted(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        await client.request(ENDPOINT, ["a"])
        first = await client.recv()
        xds.cache.set_node_resources(
            "n1", {**base_resources(), ENDPOINT: {"a": endpoints("a"), "b": endpoints("b")}}
        )
        second = await client.recv()
        await client.request(ENDPOINT, ["a", "b"], nonce=first.nonce)  # stale: ignored, names too
        await client.expect_nothing()
        assert xds.server.metrics()['stale_nonce_total{type="eds"}'] == 1
        await client.request(ENDPOINT, ["a", "b"], nonce=second.nonce)
        grown = await client.recv()
        assert sorted(decode(r).cluster_name for r in grown.resources) == ["a", "b"]


async def test_reconnect_carrying_the_current_version_gets_no_resend(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        await client.request(CLUSTER)
        version = (await client.recv()).version_info
    async with AdsClient(xds.target, "n1") as again:
        await again.request(CLUSTER, version=version, nonce="")
        await again.expect_nothing()
        await eventually(lambda: syncz(xds, "n1")["cds"]["status"] == "SYNCED")
        xds.cache.set_node_resources("n1", {**base_resources(), CLUSTER: {"a": cluster("a")}})
        changed = await again.recv()
        assert [decode(r).name for r in changed.resources] == ["a"]


async def test_node_is_kept_from_the_first_request(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1", node_on_first_only=True) as client:
        await client.request(CLUSTER)
        await client.ack(await client.recv())
        await client.request(ENDPOINT, ["a"])  # carries no node
        assert (await client.recv()).type_url == ENDPOINT
    assert [c[0] for c in xds.connects] == ["n1"]


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED])
async def test_stream_refused_closes_with_the_chosen_status(xds: Harness, code: grpc.StatusCode) -> None:
    async with AdsClient(xds.target, "n1", call_metadata=[("x-refuse", code.name)]) as client:
        await client.request(CLUSTER)
        closed = await client.closed_status()
    assert closed.code == code
    assert closed.details == "refused by test"
    assert xds.connects[0][1]["x-refuse"] == code.name
    assert xds.server.metrics()["refused_total"] == 1
    assert xds.server.sync_status() == []


async def test_first_request_without_node_id_is_invalid(xds: Harness) -> None:
    async with AdsClient(xds.target, "") as client:
        await client.request(CLUSTER)
        assert (await client.closed_status()).code == grpc.StatusCode.INVALID_ARGUMENT


async def test_auto_mode_subscribes_like_envoy_and_follows_updates(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        await client.start_auto()
        await client.wait_acked()
        assert sorted(client.resources[CLUSTER]) == ["a", "b"]
        assert sorted(client.resources[ENDPOINT]) == ["a", "b"]
        assert sorted(client.resources[ROUTE]) == ["r1"]  # only the route the listener names
        assert client.names[ROUTE] == ["r1"]
        await eventually(
            lambda: all(t["status"] == "SYNCED" for k, t in syncz(xds, "n1").items() if k != "sds")
        )
        xds.cache.set_node_resources(
            "n1", {**base_resources(), LISTENER: {"http": http_listener("http", "127.0.0.1", 1, "r2")}}
        )
        await client.wait_for(lambda c: sorted(c.resources[ROUTE]) == ["r2"])


async def test_auto_mode_nacks_what_reject_says(xds: Harness) -> None:
    async with AdsClient(xds.target, "n1") as client:
        await client.start_auto(reject=lambda r: "no routes today" if r.type_url == ROUTE else None)
        await client.wait_for(lambda c: ROUTE in c.nacks)
        await eventually(lambda: syncz(xds, "n1")["rds"]["status"] == "ERROR")
        assert syncz(xds, "n1")["rds"]["error"] == "no routes today"
        assert sum(r.type_url == ROUTE for r in client.received) == 1


async def test_many_streams_share_serialised_resources(xds: Harness) -> None:
    clients = [AdsClient(xds.target, f"n{i}") for i in range(20)]
    try:
        for c in clients:
            await c.connect()
            await c.start_auto()
        for c in clients:
            await c.wait_acked()
        assert xds.server.metrics()["streams_active"] == 20
        assert len(xds.server.sync_status()) == 20
    finally:
        for c in clients:
            await c.close()
