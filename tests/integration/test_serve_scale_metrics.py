"""The control plane at work, seen from /metrics: Istio's names count what happened, a proxy that
goes away mid-stream is counted as cancelled, and a one-file endpoint change reaches only the proxies
that see the service, EDS-only (issue #9)."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

from pilot.server_main import ControlPlane, ServeOptions
from pilot.testing.ads_client import AdsClient
from pilot.testing.scale_mesh import ScaleMesh, _dump

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


async def _scrape(cp: ControlPlane) -> str:
    def get() -> str:  # off the loop: the HTTP server runs on it
        with urllib.request.urlopen(f"http://127.0.0.1:{cp.http_port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    return await asyncio.to_thread(get)


def _value(text: str, sample: str) -> float:
    m = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    assert m, f"{sample} not in /metrics"
    return float(m.group(1))


async def test_metrics_count_pushes_convergence_and_cancelled_streams(tmp_path: Path) -> None:
    mesh = ScaleMesh(services=4, pods_per_service=2, namespaces=2, proxies=4)
    mesh.write(tmp_path)
    cp = ControlPlane(ServeOptions(config_dirs=[str(tmp_path)], xds_address="127.0.0.1:0",
                                   http_address="127.0.0.1:0", debounce_after=0.02))
    await cp.start()
    target = f"127.0.0.1:{cp.xds_port}"
    pods = mesh.proxied_pods()
    ns0 = mesh.namespace_of(0)
    clients = [AdsClient(target, p.node_id) for p in pods]
    try:
        for c in clients:
            await c.__aenter__()
            await c.start_auto()
        for c in clients:
            await c.wait_acked(timeout=10)
        before = (await _scrape(cp))
        assert _value(before, "pilot_xds") == len(pods)
        assert _value(before, 'pilot_xds_pushes{type="cds"}') >= len(pods)
        assert _value(before, "meshpilot_xds_streams_cancelled_total") == 0
        assert _value(before, "pilot_proxy_queue_time_count") == len(pods)

        # One pod added to service 0: only its namespace's proxies see it, and only EDS changes.
        pushes_before = {t: _value(before, f'pilot_xds_pushes{{type="{t}"}}') for t in ("cds", "eds", "lds", "rds")}
        mesh.service_file(tmp_path, 0).write_text(_dump(mesh.service_documents(0, extra_pods=1)))
        seeing = [p for p in pods if p.namespace == ns0]
        deadline = asyncio.get_running_loop().time() + 10
        while cp.controller.stats.endpoint_only_updates < len(seeing):
            assert asyncio.get_running_loop().time() < deadline, "endpoint change not pushed"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        after = (await _scrape(cp))
        pushes = {t: _value(after, f'pilot_xds_pushes{{type="{t}"}}') - n for t, n in pushes_before.items()}
        assert pushes == {"cds": 0, "eds": len(seeing), "lds": 0, "rds": 0}
        assert cp.controller.stats.last_push_reached == len(seeing) < len(pods)
        assert _value(after, "pilot_proxy_convergence_time_count") >= len(seeing)
        assert _value(after, 'pilot_push_triggers{type="Pod"}') >= 1

        # A proxy that vanishes mid-stream (Envoy killed) shows up as a cancelled stream.
        await clients[0].__aexit__(None, None, None)
        clients = clients[1:]
        deadline = asyncio.get_running_loop().time() + 5
        while _value((await _scrape(cp)), "meshpilot_xds_streams_cancelled_total") < 1:
            assert asyncio.get_running_loop().time() < deadline, "cancelled stream not counted"
            await asyncio.sleep(0.05)
        assert _value((await _scrape(cp)), "pilot_xds") == len(pods) - 1
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)
        await cp.stop()
