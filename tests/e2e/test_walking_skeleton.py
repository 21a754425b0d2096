"""Issue 2's promise, through real Envoy sidecars: canary split, header routing, hot reload, no NACKs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e

REVIEWS_50_50 = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v2}
      weight: 50
"""


def _no_rejections(runner: MeshRunner) -> None:
    for pod in runner.mesh.pods:
        assert runner.envoy_stat(pod, "update_rejected") == 0, f"{pod.name} rejected config"


@pytest.mark.parametrize("running_mesh", ["sotw", "delta"], indirect=True)
def test_canary_split_header_route_and_hot_reload(running_mesh: MeshRunner) -> None:
    runner = running_mesh
    client = MeshClient(runner.mesh.pod("productpage"))
    # 80/20 over 1000 requests: sd is 1.3 points, so +-5 points is ~4 sd.
    seen = client.versions("reviews", 1000)
    assert seen["v1"] + seen["v2"] == 1000, seen
    assert abs(seen["v1"] / 10 - 80) <= 5, seen
    # Header match: jason always lands on v2.
    jason = client.versions("reviews.default.svc.cluster.local", 100, {"end-user": "jason"})
    assert jason == {"v2": 100}, jason

    vs = runner.config_dir / "virtual-service-reviews.yaml"
    vs.write_text(REVIEWS_50_50)
    changed_at = time.monotonic()
    deadline = changed_at + 2.0
    while True:
        window = client.versions("reviews", 100)
        if abs(window["v1"] - 50) <= 15:
            break
        assert time.monotonic() < deadline, f"split did not change within 2 s: {window}"
    assert time.monotonic() - changed_at <= 2.0
    seen = client.versions("reviews", 1000)
    assert abs(seen["v1"] / 10 - 50) <= 6, seen
    runner.wait_synced(5)
    for entry in runner.syncz():
        for typ, st in entry["types"].items():
            assert st["status"] in ("SYNCED", "NOT_SENT"), (entry["proxy"], typ, st)
            if st["status"] == "SYNCED":
                assert st["acked"] == st["sent"]
    _no_rejections(runner)
    metrics = runner.http("/metrics")[1].decode()
    delta_streams = next(float(line.split()[-1]) for line in metrics.splitlines()
                         if line.startswith("meshpilot_xds_streams_total "))
    if runner.delta:
        assert f"meshpilot_xds_delta_streams_total {delta_streams:g}" in metrics, metrics
    else:
        assert "meshpilot_xds_delta_streams_total" not in metrics, metrics


BAD_REGEX = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - match:
    - uri: {regex: "/(unclosed"}
    route:
    - destination: {host: reviews, subset: v3}
  - route:
    - destination: {host: reviews, subset: v1}
"""

BAD_WEIGHTS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: -20
    - destination: {host: reviews, subset: v3}
      weight: 0
"""


@pytest.mark.parametrize("bad, field", [(BAD_REGEX, "spec.http[0].match[0].uri.regex"),
                                        (BAD_WEIGHTS, "spec.http[0].route[0].weight")])
def test_invalid_virtual_service_is_skipped_and_last_good_config_served(
        running_mesh: MeshRunner, bad: str, field: str) -> None:
    runner = running_mesh
    client = MeshClient(runner.mesh.pod("productpage"))
    vs: Path = runner.config_dir / "virtual-service-reviews.yaml"
    vs.write_text(bad)
    # The control plane reports file, resource and field ...
    deadline = time.monotonic() + 5
    findings: list[dict] = []
    while time.monotonic() < deadline:
        import json

        findings = json.loads(runner.http("/debug/configz")[1])["findings"]
        if any(f["field"] == field for f in findings):
            break
        time.sleep(0.1)
    match = [f for f in findings if f["field"] == field]
    assert match, findings
    assert match[0]["file"].endswith("virtual-service-reviews.yaml")
    assert (match[0]["kind"], match[0]["name"]) == ("VirtualService", "reviews")
    # ... and keeps serving the last good 80/20 config; Envoy never sees the bad one.
    time.sleep(0.5)
    seen = client.versions("reviews", 500)
    assert seen["v3"] == 0 and abs(seen["v1"] / 5 - 80) <= 7, seen
    _no_rejections(runner)
    runner.wait_synced(5)


def test_proxy_status_and_proxy_config_read_the_running_server(running_mesh: MeshRunner,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pilot.cli import main

    server = f"http://127.0.0.1:{running_mesh.http_port}"
    assert main(["proxy-status", "--server", server]) == 0
    out = capsys.readouterr().out
    for pod in running_mesh.mesh.pods:
        row = next(line for line in out.splitlines() if pod.name in line)
        assert row.count("SYNCED") == 4, row  # CDS, LDS, EDS, RDS; SDS is not used without a CA
    assert main(["proxy-config", "cluster", "productpage-v1-0.default", "--server", server, "-o", "json"]) == 0
    clusters = {c["name"] for c in json.loads(capsys.readouterr().out)}
    assert "outbound|9080|v2|reviews.default.svc.cluster.local" in clusters
    # The default is istioctl's summary table, read from the same server.
    assert main(["proxy-config", "cluster", "productpage-v1-0.default", "--server", server,
                 "--fqdn", "reviews", "--subset", "v2"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["reviews.default.svc.cluster.local", "9080", "v2", "outbound", "EDS"] in rows, rows
    assert main(["proxy-status", "--server", "http://127.0.0.1:1"]) == 1
