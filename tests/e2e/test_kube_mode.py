"""Kube mode through real Envoy: the mesh lives in the (test) API server; a weighted split changes via the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pilot.testing.kube_apiserver import FakeKubeApiServer
from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def _vs(v1: int, v2: int) -> dict:
    return {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": v1},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": v2}]}]}}


@pytest.fixture
def kube_mesh(tmp_path: Path) -> Iterator[tuple[MeshRunner, FakeKubeApiServer]]:
    mesh = LoopbackMesh.build(BOOKINFO)
    api = FakeKubeApiServer(bookmark_interval=0.5).start()
    for doc in mesh.documents():
        api.apply(doc)
    for doc in filter(None, yaml.safe_load_all((REPO / "policies/bookinfo/destination-rule-all.yaml").read_text())):
        api.apply({**doc, "metadata": {**doc["metadata"], "namespace": "default"}})
    api.apply(_vs(100, 0))
    empty = tmp_path / "no-files"
    empty.mkdir()
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    runner = MeshRunner(empty, mesh, extra_serve_args=["--kube", "--kubeconfig", str(kubeconfig)])
    try:
        with runner.running():
            yield runner, api
    finally:
        api.stop()


def test_weighted_split_changed_through_the_api(kube_mesh: tuple[MeshRunner, FakeKubeApiServer]) -> None:
    runner, api = kube_mesh
    client = MeshClient(runner.mesh.pod("productpage"))
    assert client.versions("reviews", 200) == {"v1": 200}
    api.apply(_vs(20, 80))
    deadline = time.monotonic() + 3
    while client.versions("reviews", 50)["v2"] < 25:
        assert time.monotonic() < deadline, "split did not follow the API change"
    seen = client.versions("reviews", 1000)
    assert abs(seen["v2"] / 10 - 80) <= 5, seen
    for pod in runner.mesh.pods:
        assert runner.envoy_stat(pod, "update_rejected") == 0
