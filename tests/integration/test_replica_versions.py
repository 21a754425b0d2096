"""Two `pilot serve` processes on one config give every proxy the same versions (content hashes), so a
sidecar that fails over from one to the other has nothing to re-apply. Each process gets its own hash
seed: anything that leaned on dict/set order of strings, or on map order inside packed Anys, would
show up here as differing versions."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pilot.testing.ads_client import AdsClient
from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.testing.processes import ProcessGroup, free_port, http_get, wait_until
from pilot.testing.runner import REPO_ROOT, python_env
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE


def _serve(group: ProcessGroup, name: str, config: Path, seed: str) -> int:
    xds, http = free_port(), free_port()
    group.start(name, [sys.executable, "-m", "pilot", "serve", "--config", str(config),
                       "--xds-address", f"127.0.0.1:{xds}", "--http-address", f"127.0.0.1:{http}"],
                env={**python_env(), "PYTHONHASHSEED": seed})
    wait_until(lambda: http_get(f"http://127.0.0.1:{http}/ready")[0] == 200, 30, what=f"{name} /ready")
    return xds


async def _versions(port: int, node_id: str) -> dict[str, object]:
    async with AdsClient(f"127.0.0.1:{port}", node_id) as client:
        await client.start_auto()
        await client.wait_acked(timeout=10)
        resources = {t: sorted(client.resources.get(t, {})) for t in (CLUSTER, ENDPOINT, LISTENER, ROUTE)}
        return {"acked": dict(client.acked), "names": resources}


async def test_two_replicas_serve_identical_versions(tmp_path: Path) -> None:
    mesh = LoopbackMesh.build(BOOKINFO)
    config = tmp_path / "config"
    config.mkdir()
    (config / "mesh.yaml").write_text(mesh.yaml())
    for extra in ("destination-rule-all.yaml", "virtual-service-reviews.yaml"):
        shutil.copy(REPO_ROOT / "policies/bookinfo" / extra, config)
    group = ProcessGroup()
    try:
        ports = [_serve(group, "pilot-a", config, "1"), _serve(group, "pilot-b", config, "2")]
        for pod in mesh.pods:
            a, b = [await _versions(p, pod.node_id) for p in ports]
            assert a["acked"] and set(a["acked"]) >= {CLUSTER, LISTENER, ROUTE}, pod.name  # type: ignore[arg-type]
            assert a == b, pod.name
    finally:
        group.stop_all()
