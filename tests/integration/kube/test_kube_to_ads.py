"""Kubernetes changes made through the API reach a connected ADS client, through the whole control plane."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from envoy.config.route.v3 import route_pb2

from pilot.server_main import ControlPlane, ServeOptions
from pilot.testing.ads_client import AdsClient, AdsStreamClosed
from pilot.testing.kube_apiserver import FakeKubeApiServer
from pilot.testing.mesh import LoopbackMesh
from pilot.translate.generate import CLUSTER, ENDPOINT, ROUTE

MESH = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1"), ("reviews", "v2")], block=(127, 60, 0))
CLIENT = MESH.pod("productpage")
REVIEWS = "reviews.default.svc.cluster.local"


def vs(weights: dict[str, int]) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [
                {"destination": {"host": "reviews", "subset": s}, "weight": w} for s, w in weights.items()]}]}}


DR = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
      "metadata": {"name": "reviews", "namespace": "default"},
      "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                              {"name": "v2", "labels": {"version": "v2"}}]}}


@pytest.fixture
def api() -> FakeKubeApiServer:
    server = FakeKubeApiServer(bookmark_interval=0.2).start()
    for doc in MESH.documents():
        server.apply(doc)
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
async def control_plane(api: FakeKubeApiServer, tmp_path: Path) -> AsyncIterator[ControlPlane]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cp = ControlPlane(ServeOptions(kube=True, kubeconfig=str(kubeconfig), xds_address="127.0.0.1:0",
                                   http_address="127.0.0.1:0", debounce_after=0.02))
    await cp.start()
    deadline = time.monotonic() + 10
    while not cp.controller.ready:
        assert time.monotonic() < deadline, "kube sources never synced"
        await asyncio.sleep(0.02)
    yield cp
    await cp.stop()


async def _within(client: AdsClient, predicate: Callable[[AdsClient], bool], limit: float = 1.0) -> float:
    start = time.monotonic()
    await client.wait_for(predicate, timeout=limit)
    return time.monotonic() - start


def _weights(c: AdsClient) -> dict[str, int]:
    rc = c.resources.get(ROUTE, {}).get("9080")
    if not isinstance(rc, route_pb2.RouteConfiguration):
        return {}
    vh = next((v for v in rc.virtual_hosts if v.name.startswith(REVIEWS)), None)
    if vh is None or not vh.routes[0].route.weighted_clusters.clusters:
        return {}
    return {c.name.split("|")[2]: c.weight.value for c in vh.routes[0].route.weighted_clusters.clusters}


def _endpoints(c: AdsClient, cluster: str) -> set[str]:
    cla = c.resources.get(ENDPOINT, {}).get(cluster)
    return {e.endpoint.address.socket_address.address for loc in getattr(cla, "endpoints", [])
            for e in loc.lb_endpoints}


async def test_changes_through_the_api_reach_envoy_within_a_second(api: FakeKubeApiServer,
                                                                   control_plane: ControlPlane) -> None:
    async with AdsClient(f"127.0.0.1:{control_plane.xds_port}", CLIENT.node_id) as client:
        await client.start_auto()
        await client.wait_acked()
        # Create a DestinationRule and a VirtualService: subset clusters and weighted routes appear.
        api.apply(DR)
        await _within(client, lambda c: f"outbound|9080|v2|{REVIEWS}" in c.resources.get(CLUSTER, {}))
        api.apply(vs({"v1": 80, "v2": 20}))
        await _within(client, lambda c: _weights(c) == {"v1": 80, "v2": 20})
        # Update it.
        api.apply(vs({"v1": 50, "v2": 50}))
        await _within(client, lambda c: _weights(c) == {"v1": 50, "v2": 50})
        # A new Pod joins the v2 subset; deleting it takes it out again.
        pod = next(d for d in MESH.documents() if d["kind"] == "Pod" and d["metadata"]["name"] == "reviews-v2-0")
        extra = {**pod, "metadata": {**pod["metadata"], "name": "reviews-v2-1"},
                 "status": {"podIP": "127.60.0.99"}}
        api.apply(extra)
        v2 = f"outbound|9080|v2|{REVIEWS}"
        await _within(client, lambda c: "127.60.0.99" in _endpoints(c, v2))
        api.remove("Pod", "default", "reviews-v2-1")
        await _within(client, lambda c: "127.60.0.99" not in _endpoints(c, v2))
        # An EndpointSlice takes over from Pods for its Service.
        api.apply({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": "reviews-x", "namespace": "default",
                                "labels": {"kubernetes.io/service-name": "reviews"}},
                   "addressType": "IPv4", "ports": [{"name": "http", "port": 9080}],
                   "endpoints": [{"addresses": ["127.60.0.98"], "conditions": {"ready": True}}]})
        await _within(client, lambda c: _endpoints(c, f"outbound|9080||{REVIEWS}") == {"127.60.0.98"})
        # A new Service appears as clusters; deleting it removes them; deleting the VS restores defaults.
        api.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ratings", "namespace": "default"},
                   "spec": {"selector": {"app": "ratings"}, "ports": [{"name": "http", "port": 9080}]}})
        ratings = "outbound|9080||ratings.default.svc.cluster.local"
        await _within(client, lambda c: ratings in c.resources.get(CLUSTER, {}))
        api.remove("Service", "default", "ratings")
        await _within(client, lambda c: ratings not in c.resources.get(CLUSTER, {}))
        api.remove("VirtualService", "default", "reviews")
        api.remove("DestinationRule", "default", "reviews")
        await _within(client, lambda c: v2 not in c.resources.get(CLUSTER, {}) and _weights(c) == {})
        assert not client.nacks


async def test_nothing_lost_across_410_gone_and_cut_watches(api: FakeKubeApiServer,
                                                            control_plane: ControlPlane) -> None:
    async with AdsClient(f"127.0.0.1:{control_plane.xds_port}", CLIENT.node_id) as client:
        await client.start_auto()
        await client.wait_acked()
        api.apply(DR)
        api.apply(vs({"v1": 90, "v2": 10}))
        await _within(client, lambda c: _weights(c) == {"v1": 90, "v2": 10})
        # Watches are cut, a change lands in the gap and history is compacted: the reflector gets 410,
        # relists and must emit exactly the difference.
        with api.watch_outage():
            api.apply(vs({"v1": 30, "v2": 70}))
            api.compact()
        await _within(client, lambda c: _weights(c) == {"v1": 30, "v2": 70}, limit=5.0)
        # A watch cut mid-stream resumes from its last resourceVersion and loses nothing.
        api.cut_watches()
        api.apply(vs({"v1": 10, "v2": 90}))
        await _within(client, lambda c: _weights(c) == {"v1": 10, "v2": 90}, limit=5.0)


async def test_streams_before_sync_are_refused_unavailable(api: FakeKubeApiServer, tmp_path: Path) -> None:
    api.deny("virtualservices")  # one watch can never sync: the control plane must not serve
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cp = ControlPlane(ServeOptions(kube=True, kubeconfig=str(kubeconfig), xds_address="127.0.0.1:0",
                                   http_address="127.0.0.1:0"))
    await cp.start()
    try:
        await asyncio.sleep(0.3)
        assert not cp.controller.ready
        client = AdsClient(f"127.0.0.1:{cp.xds_port}", CLIENT.node_id)
        await client.connect()
        await client.start_auto()
        closed = await client.closed_status()
        assert isinstance(closed, AdsStreamClosed)
        assert closed.code is not None and closed.code.name == "UNAVAILABLE"
        await client.close()
        api.allow_all()
        deadline = time.monotonic() + 10
        while not cp.controller.ready:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await cp.stop()
