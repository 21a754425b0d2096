"""Two kube-mode control planes on one API server: both serve, only the Lease holder writes analysis
messages into `status.validationMessages` (as istiod's leader-elected analysis controller does), and when
the leader stops the other takes over and writes what changed since."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pilot.server_main import ControlPlane, LeaderOptions, ServeOptions
from pilot.testing.kube_apiserver import FakeKubeApiServer
from pilot.testing.mesh import LoopbackMesh

MESH = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1")], block=(127, 61, 0))
FAST = LeaderOptions(namespace="default", lease_duration=1.0, renew_deadline=0.6, retry_period=0.1,
                     status_interval=0.1)


def _vs(name: str, gateway: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"hosts": ["reviews"], "gateways": [gateway],
                     "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}


def _messages(api: FakeKubeApiServer, name: str) -> list[dict]:
    res = next(r for r in api.resources if r.kind == "VirtualService")
    obj = api.state.get(res, "default", name)
    return list((obj.get("status") or {}).get("validationMessages") or [])


async def _until(predicate: Callable[[], object], timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def api() -> FakeKubeApiServer:
    server = FakeKubeApiServer(bookmark_interval=0.2).start()
    for doc in MESH.documents():
        server.apply(doc)
    server.apply(_vs("reviews-a", "missing-gateway"))
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
async def replicas(api: FakeKubeApiServer, tmp_path: Path) -> AsyncIterator[list[ControlPlane]]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cps = [ControlPlane(ServeOptions(kube=True, kubeconfig=str(kubeconfig), xds_address="127.0.0.1:0",
                                     http_address="127.0.0.1:0", debounce_after=0.02,
                                     leader=LeaderOptions(**{**FAST.__dict__, "identity": f"replica-{i}"})))
           for i in range(2)]
    for cp in cps:
        await cp.start()
    await _until(lambda: all(cp.controller.ready for cp in cps))
    yield cps
    for cp in cps:
        await cp.stop()


def _status_writes(api: FakeKubeApiServer) -> int:
    return sum(1 for method, path, _q in list(api.requests) if method in ("PATCH", "PUT") and path.endswith("/status"))


def _written(cp: ControlPlane) -> int:
    assert cp.status is not None
    return cp.status.writer.written


async def test_only_the_leader_writes_status_and_the_other_takes_over(
        api: FakeKubeApiServer, replicas: list[ControlPlane]) -> None:
    await _until(lambda: sum(cp.elector.is_leader for cp in replicas) == 1)
    leader = next(cp for cp in replicas if cp.elector.is_leader)
    follower = next(cp for cp in replicas if cp is not leader)
    await _until(lambda: _messages(api, "reviews-a"))
    assert {"documentationUrl": "https://istio.io/latest/docs/reference/config/analysis/ist0101/",
            "level": "ERROR", "type": {"code": "IST0101"}} in _messages(api, "reviews-a")
    vs_obj = api.state.get(next(r for r in api.resources if r.kind == "VirtualService"), "default", "reviews-a")
    assert vs_obj["status"]["observedGeneration"] == str(vs_obj["metadata"]["generation"])
    assert vs_obj["spec"]["gateways"] == ["missing-gateway"]  # a status write leaves the spec alone

    # A second bad object: still only the leader writes, the follower analyses nothing into the API.
    api.apply(_vs("reviews-b", "another-missing-gateway"))
    await _until(lambda: _messages(api, "reviews-b"))
    await asyncio.sleep(0.5)  # rounds of both reporters go by
    assert _written(leader) == 2 and _written(follower) == 0
    assert _status_writes(api) == 2  # on the server's side too: nobody else wrote
    assert follower.status is not None and follower.status.rounds == 0

    # The leader stops (it releases the Lease); the follower takes over and writes from then on: the
    # fixed object's messages go away, the still broken one keeps its message.
    await leader.stop()
    api.apply({**_vs("reviews-a", "mesh")})
    # The server shows the patch before the writer's thread has counted it: wait for both.
    took = await _until(lambda: not _messages(api, "reviews-a") and _written(follower) >= 1, 5)
    assert follower.elector.is_leader and _written(follower) == 1
    assert _messages(api, "reviews-b")
    assert took < 2 * FAST.lease_duration
    replicas.remove(leader)  # stopped already
