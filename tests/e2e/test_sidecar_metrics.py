"""Sidecar metrics through real Envoy (docs/telemetry-metrics.md): a scrape of each sidecar's
`<admin-ip>:15090/stats/prometheus` counts exactly the requests sent, by source, destination and code,
and every metric the Grafana dashboard queries is in a real scrape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pilot.testing.mesh import LoopbackMesh, PodSpec
from pilot.testing.processes import wait_until
from pilot.testing.prom import Sample, metric_names, scrape, total
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy/grafana/meshpilot-dashboard.json"
WEB = "web.default.svc.cluster.local"
RQ = "envoy_cluster_upstream_rq"

POLICIES = [
    {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
     "metadata": {"name": "web", "namespace": "default"},
     "spec": {"host": "web", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                         {"name": "v2", "labels": {"version": "v2"}}]}},
    {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
     "metadata": {"name": "web", "namespace": "default"},
     "spec": {"hosts": ["web"], "http": [
         {"match": [{"headers": {"x-version": {"exact": "v2"}}}], "route": [{"destination": {
             "host": "web", "subset": "v2"}}]},
         {"route": [{"destination": {"host": "web", "subset": "v1"}}]}]}},
]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshRunner]:
    layout = LoopbackMesh.build([("client", "v1"), ("client", "v2"), ("web", "v1"), ("web", "v2")])
    cfg = tmp_path_factory.mktemp("sidecar-metrics") / "config"
    cfg.mkdir()
    (cfg / "mesh.yaml").write_text(layout.yaml() + "---\n" + yaml.safe_dump_all(POLICIES))
    runner = MeshRunner(cfg, layout)
    with runner.running():
        yield runner


def stats_url(pod: PodSpec) -> str:
    return f"http://{pod.admin}:15090/stats/prometheus"


def send(pod: PodSpec, paths: dict[str, int], headers: dict[str, str] | None = None) -> dict[int, int]:
    """Send `n` GETs of each path to web from `pod`'s app; the status codes the app saw, counted."""
    seen: dict[int, int] = {}
    client = MeshClient(pod)
    try:
        for path, n in paths.items():
            for _ in range(n):
                status, _h, _b = client.request("web", path, headers)
                seen[status] = seen.get(status, 0) + 1
    finally:
        client.close()
    return seen


@pytest.fixture(scope="module")
def traffic(mesh: MeshRunner) -> dict[str, list[Sample]]:
    """Scrapes of every sidecar before and after the counted requests (the warm-up is not counted)."""
    c1, c2 = mesh.mesh.pod("client", "v1"), mesh.mesh.pod("client", "v2")
    for pod, headers in ((c1, {"x-version": "v2"}), (c2, {})):
        wait_until(lambda p=pod, h=headers: send(p, {"/": 1}, h) == {200: 1}, 20, what=f"{pod.name} -> web")
    before = {p.name: scrape(stats_url(p)) for p in mesh.mesh.pods}
    sent = {"c1-v1": send(c1, {"/": 37, "/status/404": 3, "/status/503": 2}),
            "c1-v2": send(c1, {"/": 6, "/status/500": 1}, {"x-version": "v2"}),
            "c2-v1": send(c2, {"/": 11, "/status/404": 1})}
    assert sent == {"c1-v1": {200: 37, 404: 3, 503: 2}, "c1-v2": {200: 6, 500: 1}, "c2-v1": {200: 11, 404: 1}}
    after = {p.name: scrape(stats_url(p)) for p in mesh.mesh.pods}
    return {**{f"before:{k}": v for k, v in before.items()}, **after}


def by_code(samples: list[Sample], name: str = RQ, **labels: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()) and s.value:
            code = int(s.labels["response_code"])
            out[code] = out.get(code, 0) + int(s.value)
    return out


def counted(scrapes: dict[str, list[Sample]], pod: str, name: str = RQ, **labels: str) -> dict[int, int]:
    """Requests by code in `pod`'s scrape after the traffic less those before it."""
    after, before = by_code(scrapes[pod], name, **labels), by_code(scrapes[f"before:{pod}"], name, **labels)
    return {code: n - before.get(code, 0) for code, n in after.items() if n - before.get(code, 0)}


def test_client_sidecar_counts_every_request_by_source_destination_and_code(
        traffic: dict[str, list[Sample]]) -> None:
    edge = {"reporter": "source", "source_workload": "client-v1", "source_app": "client", "source_version": "v1",
            "source_workload_namespace": "default", "destination_service": WEB,
            "destination_service_name": "web", "destination_service_namespace": "default"}
    assert counted(traffic, "client-v1-0", **edge, destination_version="v1") == {200: 37, 404: 3, 503: 2}
    assert counted(traffic, "client-v1-0", **edge, destination_version="v2") == {200: 6, 500: 1}
    # The other client's requests are reported by its own sidecar, under its own name.
    assert counted(traffic, "client-v2-0", reporter="source", source_workload="client-v2",
                   destination_service_name="web") == {200: 11, 404: 1}
    assert by_code(traffic["client-v1-0"], source_workload="client-v2") == {}
    # Retried 503s are counted once per request; each retry attempt is in the retry stats.
    assert counted(traffic, "client-v1-0", "envoy_cluster_retry_upstream_rq", destination_version="v1") == {503: 4}



def test_client_sidecar_histograms_see_every_request(mesh: MeshRunner, traffic: dict[str, list[Sample]]) -> None:
    # Histograms reach the scrape at Envoy's next stats flush (every 5 s).
    url, edge = stats_url(mesh.mesh.pod("client", "v1")), {"reporter": "source", "destination_version": "v1",
                                                            "destination_service_name": "web"}
    names = ("envoy_cluster_upstream_rq_time_count", "envoy_cluster_upstream_rs_body_size_count",
             "envoy_cluster_upstream_rq_headers_size_count")
    wait_until(lambda: all(total(scrape(url), n, **edge) >= 42 for n in names), 12, what="histograms flushed")
    latency = [s for s in scrape(url) if s.name == "envoy_cluster_upstream_rq_time_bucket"
               and s.labels.get("destination_version") == "v1" and s.labels.get("le") == "+Inf"]
    assert latency and latency[0].labels["source_workload"] == "client-v1"


def test_server_sidecar_counts_what_reached_it_by_its_own_version(traffic: dict[str, list[Sample]]) -> None:
    dest = {"reporter": "destination", "destination_workload": "web-v1", "destination_version": "v1",
            "destination_app": "web", "destination_service_name": "web", "destination_service": WEB,
            "source_workload": "unknown"}
    # Every attempt reaches the server: each 503 was tried three times (Istio's default two retries).
    assert counted(traffic, "web-v1-0", **dest) == {200: 37 + 11, 404: 3 + 1, 503: 2 * 3}
    assert counted(traffic, "web-v2-0", reporter="destination", destination_workload="web-v2") == {200: 6, 500: 1}
    # The server's own identity is never reported as a source of what it received (its own clusters,
    # like the one serving this scrape, carry no reporter).
    assert by_code(traffic["web-v1-0"], reporter="destination", source_workload="web-v1") == {}
    assert by_code(traffic["web-v1-0"], cluster_name="prometheus_stats")
    assert not [s for s in traffic["web-v1-0"] if s.labels.get("cluster_name") == "prometheus_stats"
                and "reporter" in s.labels]


def test_every_dashboard_metric_is_in_a_real_scrape(mesh: MeshRunner, traffic: dict[str, list[Sample]]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", []) if t.get("expr")]
    assert len(exprs) >= 10
    wanted = set().union(*(metric_names(e) for e in exprs))
    variables = [str(v.get("definition", "")) for v in dashboard["templating"]["list"]]
    wanted |= {m for v in variables for m in re.findall(r"label_values\((\w+)", v)}
    # Convergence is measured from a config change: make one (a DestinationRule nothing routes by).
    extra = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
             "metadata": {"name": "client", "namespace": "default"}, "spec": {"host": "client"}}
    (mesh.config_dir / "dr-client.yaml").write_text(yaml.safe_dump(extra))
    metrics = f"http://127.0.0.1:{mesh.http_port}/metrics"
    wait_until(lambda: any(s.name == "pilot_proxy_convergence_time_bucket" for s in scrape(metrics)), 20,
               what="a push after the config change")
    seen = {s.name for s in scrape(metrics)}
    for pod in mesh.mesh.pods:
        seen |= {s.name for s in scrape(stats_url(pod))}
    assert wanted and not wanted - seen, sorted(wanted - seen)


def _panels(dashboard: dict) -> list[dict]:
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out
