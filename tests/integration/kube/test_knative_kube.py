"""Kube mode with Knative objects: the control plane reads `serving.knative.dev/v1` Services and Revisions
from the API server, derives the routing, and writes each Service's status to its status subresource."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pilot.server_main import ControlPlane, ServeOptions
from pilot.testing.kube_apiserver import FakeKubeApiServer

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "policies/knative"


def _docs() -> list[dict[str, Any]]:
    return [d for f in sorted(EXAMPLE.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


@pytest.fixture
def api() -> FakeKubeApiServer:
    server = FakeKubeApiServer(bookmark_interval=0.2).start()
    for doc in _docs():
        server.apply(doc)
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
async def control_plane(api: FakeKubeApiServer, tmp_path: Path) -> AsyncIterator[ControlPlane]:
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    cp = ControlPlane(ServeOptions(kube=True, kubeconfig=str(kubeconfig), xds_address="127.0.0.1:0",
                                   http_address="127.0.0.1:0", debounce_after=0.02))
    await cp.start()
    yield cp
    await cp.stop()


def _service_status(api: FakeKubeApiServer) -> dict[str, Any]:
    res = api._kind("KnativeService")
    return dict(api.state.get(res, "default", "hello").get("status") or {})


async def _until(predicate: Callable[[], object], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_status_is_written_back_and_tracks_the_routing(api: FakeKubeApiServer,
                                                             control_plane: ControlPlane) -> None:
    # The watches sync one kind at a time: the status settles once Revisions and Pods are all in.
    await _until(lambda: len(_service_status(api).get("traffic") or []) == 2)
    status = _service_status(api)
    assert status["url"] == "http://hello.default.svc.cluster.local"
    assert status["latestCreatedRevisionName"] == "hello-00002"
    assert [(t["revisionName"], t["percent"], t.get("tag")) for t in status["traffic"]] == [
        ("hello-00001", 10, "v1"), ("hello-00002", 90, None)]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "ConfigurationsReady": "True", "RoutesReady": "True", "Ready": "True"}
    snap = control_plane.controller.snapshot
    assert snap is not None and "hello-mesh" in {r.name for r in snap.of_kind("VirtualService")}

    # A target that cannot be resolved: the routing stays, the status says why (and the stale key goes).
    service = next(d for d in _docs() if d["kind"] == "Service")
    service["spec"]["traffic"] = [{"revisionName": "hello-00009", "percent": 100}]
    api.apply(service)
    await _until(lambda: _service_status(api)["conditions"][1]["status"] == "False")
    status = _service_status(api)
    assert status["conditions"][1]["message"] == 'Revision "hello-00009" referenced in traffic not found.'
    assert [t["percent"] for t in status["traffic"]] == [10, 90]  # still the last good traffic
