"""A misspelled field in an edited file is rejected with its path: the server keeps serving the last
good version of that resource, and `pilot validate` exits 1 naming the field (issue 10)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from envoy.config.route.v3 import route_pb2

from pilot.cli import main as cli_main
from pilot.server_main import ControlPlane, ServeOptions
from pilot.testing.ads_client import AdsClient
from pilot.testing.mesh import LoopbackMesh
from pilot.translate.generate import ROUTE

MESH = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1"), ("reviews", "v2")], block=(127, 61, 0))
CLIENT = MESH.pod("productpage")
REVIEWS = "reviews.default.svc.cluster.local"
DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
"""


def vs(v1: int, v2_field: str, v2: int) -> str:
    return f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: default}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews, subset: v1}}
      weight: {v1}
    - destination: {{host: reviews, subset: v2}}
      {v2_field}: {v2}
"""


def _weights(c: AdsClient) -> dict[str, int]:
    rc = c.resources.get(ROUTE, {}).get("9080")
    if not isinstance(rc, route_pb2.RouteConfiguration):
        return {}
    vh = next((v for v in rc.virtual_hosts if v.name.startswith(REVIEWS)), None)
    if vh is None:
        return {}
    return {w.name.split("|")[2]: w.weight.value for w in vh.routes[0].route.weighted_clusters.clusters}


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = tmp_path / "mesh"
    config.mkdir()
    (config / "mesh.yaml").write_text(MESH.yaml())
    (config / "dr.yaml").write_text(DR)
    (config / "vs.yaml").write_text(vs(80, "weight", 20))
    cp = ControlPlane(ServeOptions(config_dirs=[str(config)], xds_address="127.0.0.1:0",
                                   http_address="127.0.0.1:0", debounce_after=0.02))
    await cp.start()
    try:
        yield cp
    finally:
        await cp.stop()


async def _until(predicate, what: str, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_wieght_typo_keeps_the_old_split_served_and_validate_names_the_path(
        plane: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vs_file = tmp_path / "mesh" / "vs.yaml"
    typo_path = "spec.http[0].route[1].wieght"
    async with AdsClient(f"127.0.0.1:{plane.xds_port}", CLIENT.node_id) as client:
        await client.start_auto()
        await client.wait_for(lambda c: _weights(c) == {"v1": 80, "v2": 20}, timeout=10)

        # The edit moves v1 to 50 and misspells v2's weight: accepted, v2 would lose its weight.
        vs_file.write_text(vs(50, "wieght", 50))
        await _until(lambda: any(f.field == typo_path for f in plane.store.findings()), "the typo's finding")
        finding = next(f for f in plane.store.findings() if f.field == typo_path)
        assert finding.is_error and 'unknown field (did you mean "weight"?)' in finding.message
        await asyncio.sleep(0.3)  # several debounce periods: nothing may be pushed
        assert _weights(client) == {"v1": 80, "v2": 20}

        assert cli_main(["validate", str(vs_file)]) == 1
        out = capsys.readouterr().out
        assert (f"{vs_file}:1: VirtualService default/reviews: {typo_path}: "
                'unknown field (did you mean "weight"?)') in out

        # Fixing the typo is picked up as usual.
        vs_file.write_text(vs(50, "weight", 50))
        await client.wait_for(lambda c: _weights(c) == {"v1": 50, "v2": 50}, timeout=10)
        assert not client.nacks
