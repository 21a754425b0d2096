"""Telemetry through real Envoy: a request from productpage to reviews crosses two sidecars, and the
collectors (Zipkin JSON, OTLP/gRPC) get a client span and its child server span; sampling follows
randomSamplingPercentage; access logs land in the configured format, filtered by CEL, and a workload's
`disabled: true` beats the mesh-wide Telemetry."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from pilot.testing.mesh import LoopbackMesh
from pilot.testing.processes import wait_until
from pilot.testing.runner import MeshClient, MeshRunner
from tests.e2e.telemetry_collectors import OtlpCollector, Span, ZipkinCollector

pytestmark = pytest.mark.e2e
REQUESTS = 1000
SAMPLING = 30.0


def collector_ip(mesh: LoopbackMesh) -> str:
    a, b, c = mesh.pods[0].block
    return f"{a}.{b}.{c + 3}.1"  # the pods use c, c+1, c+2 of the block


def collector_entry(ip: str, host: str, port: int, protocol: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": host.split(".")[0], "namespace": "istio-system"},
            "spec": {"hosts": [host], "location": "MESH_EXTERNAL", "resolution": "STATIC",
                     "ports": [{"number": port, "name": protocol.lower(), "protocol": protocol}],
                     "endpoints": [{"address": ip}]}}


def telemetry(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def run_mesh(tmp_path: Path, docs: list[dict], mesh_config: dict, mesh: LoopbackMesh) -> MeshRunner:
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    (cfg / "telemetry.yaml").write_text(yaml.safe_dump_all(docs))
    mesh_file = tmp_path / "meshconfig.yaml"
    mesh_file.write_text(yaml.safe_dump(mesh_config))
    return MeshRunner(cfg, mesh, extra_serve_args=["--mesh-config", str(mesh_file)])


def send(mesh: LoopbackMesh, n: int, path: str = "/", workers: int = 8) -> list[int]:
    client_pod = mesh.pod("productpage")

    def batch(count: int) -> list[int]:
        client = MeshClient(client_pod)
        try:
            return [client.request("reviews", path)[0] for _ in range(count)]
        finally:
            client.close()

    sizes = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        return [code for codes in pool.map(batch, sizes) for code in codes]


@pytest.fixture
def mesh() -> LoopbackMesh:
    return LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1")])


def tracing_setup(mesh: LoopbackMesh, kind: str) -> tuple[list[dict], dict]:
    ip = collector_ip(mesh)
    if kind == "zipkin":
        entry = collector_entry(ip, "zipkin.example", 9411, "HTTP")
        provider = {"name": "zipkin", "zipkin": {"service": "zipkin.example", "port": 9411}}
    else:
        entry = collector_entry(ip, "otel-collector.example", 4317, "GRPC")
        provider = {"name": "otel", "opentelemetry": {"service": "otel-collector.example", "port": 4317}}
    tel = telemetry("mesh-default", "istio-system", {"tracing": [{
        "providers": [{"name": provider["name"]}], "randomSamplingPercentage": SAMPLING,
        "customTags": {"team": {"literal": {"value": "checkout"}}}}]})
    return [entry, tel], {"extensionProviders": [provider]}


@pytest.fixture(params=["zipkin", "opentelemetry"])
def traced(request: pytest.FixtureRequest, tmp_path: Path, mesh: LoopbackMesh
           ) -> Iterator[tuple[MeshRunner, ZipkinCollector | OtlpCollector]]:
    ip = collector_ip(mesh)
    collector = ZipkinCollector(ip) if request.param == "zipkin" else OtlpCollector(ip)
    docs, mesh_config = tracing_setup(mesh, request.param)
    runner = run_mesh(tmp_path, docs, mesh_config, mesh)
    try:
        with runner.running():
            yield runner, collector
    finally:
        collector.close()


def test_spans_of_both_sidecars_are_linked_and_sampled(traced: tuple[MeshRunner, ZipkinCollector | OtlpCollector],
                                                       mesh: LoopbackMesh) -> None:
    runner, collector = traced
    codes = send(mesh, REQUESTS)
    assert codes.count(200) == REQUESTS
    spans = collector.wait_quiet(quiet_s=5.5, timeout=30)
    by_trace: dict[str, list[Span]] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, []).append(s)
    # Every sampled request: the client sidecar's span and the server sidecar's child span, no others.
    for trace_id, members in by_trace.items():
        kinds = {s.kind: s for s in members}
        assert len(members) == 2 and set(kinds) == {"CLIENT", "SERVER"}, (trace_id, members)
        client, server = kinds["CLIENT"], kinds["SERVER"]
        assert server.parent_id == client.span_id and client.parent_id in ("", "0" * 16), (client, server)
        assert (client.service, server.service) == ("productpage.default", "reviews.default")
        assert client.tag("team") == server.tag("team") == "checkout"
        assert client.tag("istio.canonical_service") == "productpage"
    share = 100 * len(by_trace) / REQUESTS
    assert SAMPLING - 5 <= share <= SAMPLING + 5, f"{len(by_trace)} of {REQUESTS} requests traced"
    assert runner.envoy_stat(mesh.pod("productpage"), "update_rejected") == 0


def test_access_logs_in_the_configured_format_filtered_and_disabled_per_workload(
        tmp_path: Path, mesh: LoopbackMesh) -> None:
    every, errors = tmp_path / "every.log", tmp_path / "errors.log"
    providers = [
        {"name": "every", "envoyFileAccessLog": {"path": str(every), "logFormat": {
            "text": "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %UPSTREAM_CLUSTER_RAW%"}}},
        {"name": "errors", "envoyFileAccessLog": {"path": str(errors), "logFormat": {
            "labels": {"path": "%REQ(:PATH)%", "code": "%RESPONSE_CODE%", "cluster": "%UPSTREAM_CLUSTER_RAW%"}}}},
    ]
    docs = [
        telemetry("mesh-default", "istio-system", {"accessLogging": [
            {"providers": [{"name": "every"}]},
            {"providers": [{"name": "errors"}], "filter": {"expression": "response.code >= 400"}}]}),
        # Workload beats mesh, and (Istio's merge) a level naming providers replaces the inherited set:
        # reviews logs neither to `every` (disabled) nor to `errors` (not named at its level).
        telemetry("reviews-quiet", "default", {"selector": {"matchLabels": {"app": "reviews"}},
                                               "accessLogging": [{"providers": [{"name": "every"}],
                                                                  "disabled": True}]}),
    ]
    runner = run_mesh(tmp_path, docs, {"extensionProviders": providers}, mesh)
    with runner.running():
        assert send(mesh, 10, workers=2).count(200) == 10
        assert send(mesh, 4, "/status/404", workers=2).count(404) == 4

        def lines(path: Path) -> list[str]:
            return path.read_text().splitlines() if path.exists() else []

        # Envoy flushes file logs every second; the counts must settle at exactly these.
        wait_until(lambda: len(lines(every)) >= 14 and len(lines(errors)) >= 4, 10, what="access log lines")
        time.sleep(1.5)  # one more flush interval: nothing else may arrive
    full = lines(every)
    assert len(full) == 14  # productpage's outbound side only: reviews disabled it
    assert all(line.split()[3] == "outbound|9080||reviews.default.svc.cluster.local" for line in full), full
    assert sorted(line.split()[2] for line in full) == ["200"] * 10 + ["404"] * 4
    assert full[0].startswith("GET /")
    entries = [json.loads(line) for line in lines(errors)]
    assert len(entries) == 4  # the 4 failing requests only, from productpage's sidecar only
    assert {(e["path"], e["code"], e["cluster"]) for e in entries} == {
        ("/status/404", 404, "outbound|9080||reviews.default.svc.cluster.local")}
