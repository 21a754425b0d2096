"""The dashboard's handlers against fake control-plane data and fake sidecar stats servers."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

from pilot.dashboard.api import Dashboard, DashboardOptions, DashboardSources
from pilot.httpserver import HttpServer
from pilot.model.snapshot import build_snapshot
from pilot.sources.yaml_files import load_paths
from pilot.testing.processes import free_port

BOOKINFO = Path(__file__).resolve().parents[3] / "policies/bookinfo"
REVIEWS = "reviews.default.svc.cluster.local"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def _series(code: str, value: float) -> str:
    return (f'envoy_cluster_upstream_rq{{reporter="source",source_workload="productpage-v1",'
            f'source_workload_namespace="default",destination_service="{REVIEWS}",destination_version="v1",'
            f'response_code="{code}"}} {value}\n')


class FakeSidecar:
    """Serves whatever `page` holds as its /stats/prometheus."""

    def __init__(self) -> None:
        b, c, n = random.randint(100, 250), random.randrange(0, 240, 4), random.randint(2, 250)
        self.pod_ip, self.admin_ip = f"127.{b}.{c}.{n}", f"127.{b}.{c + 2}.{n}"
        self.page = ""
        self.server: asyncio.Server | None = None

    @property
    def node_id(self) -> str:
        return f"sidecar~{self.pod_ip}~productpage-v1-0.default~default.svc.cluster.local"

    async def start(self, port: int) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + self.page.encode())
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(handle, self.admin_ip, port)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _dashboard(sidecar: FakeSidecar, port: int, clock: Clock) -> Dashboard:
    snap = build_snapshot(load_paths([BOOKINFO])[0])
    syncz = [{"proxy": sidecar.node_id, "types": {"cds": {"status": "SYNCED"}, "lds": {"status": "STALE"},
                                                  "rds": {"status": "ERROR", "error": "bad route"}}}]
    dumps = {sidecar.node_id: {CLUSTER: {"outbound|9080|v1|" + REVIEWS: {"name": "outbound|9080|v1|" + REVIEWS,
                                                                         "type": "EDS"}}}}
    return Dashboard(DashboardSources(lambda: snap, lambda: syncz, dumps.get),
                     DashboardOptions(stats_port=port, window=10.0), clock=clock)


def _body(resp: Any) -> dict[str, Any]:
    return dict(json.loads(resp.body))


def _edge(view: dict[str, Any], source: str, target: str) -> dict[str, Any]:
    return next(e for e in view["edges"] if e["source"] == source and e["target"] == target)


async def test_graph_rates_follow_the_scraped_counters() -> None:
    sidecar, port, clock = FakeSidecar(), free_port(), Clock()
    await sidecar.start(port)
    dash = _dashboard(sidecar, port, clock)
    edge = ("ver:productpage.default.svc.cluster.local/v1", "svc:" + REVIEWS)
    sidecar.page = _series("200", 100)
    first = _body(await dash.graph({}))
    assert _edge(first, *edge)["rps"] == 0.0 and first["scrape"]["errors"] == {}
    clock.now += 2.0
    sidecar.page = _series("200", 130) + _series("503", 10)
    second = _body(await dash.graph({}))
    assert (_edge(second, *edge)["rps"], _edge(second, *edge)["error_ratio"]) == (20.0, 0.25)
    # Polled again within min_interval: no new scrape, same numbers.
    sidecar.page = _series("200", 1000)
    clock.now += 0.5
    assert _edge(_body(await dash.graph({})), *edge)["rps"] == 20.0
    # Traffic stops: once the window has passed, the rate falls back to zero.
    for _ in range(7):
        clock.now += 2.0
        last = _body(await dash.graph({}))
    assert _edge(last, *edge)["rps"] == 0.0
    assert sidecar.server is not None
    sidecar.server.close()


async def test_a_sidecar_that_does_not_answer_is_reported_not_fatal() -> None:
    sidecar, clock = FakeSidecar(), Clock()
    dash = _dashboard(sidecar, free_port(), clock)  # nothing listens there
    view = _body(await dash.graph({}))
    assert list(view["scrape"]["errors"]) == [sidecar.node_id]
    assert any(n["label"] == "reviews" for n in view["nodes"])


def test_proxies_and_proxy_config() -> None:
    sidecar = FakeSidecar()
    dash = _dashboard(sidecar, 1, Clock())
    rows = _body(dash.proxies({}))["proxies"]
    assert rows == [{"id": sidecar.node_id, "name": "productpage-v1-0.default", "type": "sidecar",
                     "ip": sidecar.pod_ip, "errors": {"rds": "bad route"},
                     "status": {"cds": "SYNCED", "lds": "STALE", "eds": "IGNORED", "rds": "ERROR",
                                "sds": "IGNORED"}}]
    config = _body(dash.proxy({"id": [sidecar.node_id]}))
    assert config["tables"]["cluster"]["rows"] == [[REVIEWS, "9080", "v1", "outbound", "EDS", ""]]
    assert dash.proxy({"id": ["nope"]}).status == 404


async def test_page_and_script_are_served_over_http() -> None:
    dash = _dashboard(FakeSidecar(), 1, Clock())
    server = HttpServer(dash.routes())
    port = await server.start("127.0.0.1:0")
    try:
        for path, ctype, needle in (("/dashboard", "text/html", b"<svg"), ("/dashboard/app.js", "javascript",
                                                                           b"/dashboard/api/graph")):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            raw = await reader.read(-1)
            writer.close()
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and ctype.encode() in head and needle in body
    finally:
        await server.stop()
