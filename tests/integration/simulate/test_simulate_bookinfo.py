"""The simulator over Bookinfo's generated config, the `pilot simulate` / `pilot test` commands, and
RBAC on the destination sidecar (filters built from AuthorizationPolicies by pilot/translate/rbac.py and
placed in the inbound HTTP connection manager, where Istio puts them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from pilot.cli import main
from pilot.cli_policy import load_resources
from pilot.model.authn import authorization_policies_for
from pilot.model.registry import Workload
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.simulate.config import ProxyConfig
from pilot.simulate.engine import Simulator, view_of
from pilot.simulate.request import Request
from pilot.sources.memory import resources_from_yaml
from pilot.translate.rbac import build_http_rbac_filters

REPO = Path(__file__).resolve().parents[3]
BOOKINFO = REPO / "policies/bookinfo"

POLICIES = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-get-only, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET]}}]
"""


class RbacSimulator(Simulator):
    """Adds the HTTP RBAC filters Istio would put first in each inbound connection manager."""

    def config_for(self, w: Workload) -> ProxyConfig:
        cfg = super().config_for(w)
        filters = build_http_rbac_filters(authorization_policies_for(self.snapshot, view_of(self.snapshot, w)))
        for lis in cfg.listeners.values():
            if lis.traffic_direction != 1:  # INBOUND only
                continue
            for chain in lis.filter_chains:
                for f in chain.filters:
                    if f.name != "envoy.filters.network.http_connection_manager":
                        continue
                    m = hcm.HttpConnectionManager()
                    f.typed_config.Unpack(m)
                    if any(h.name == "envoy.filters.http.rbac" for h in m.http_filters):
                        continue
                    existing = list(m.http_filters)
                    del m.http_filters[:]
                    m.http_filters.extend(filters + existing)
                    f.typed_config.Pack(m)
        return cfg


@pytest.fixture(scope="module")
def snapshot() -> MeshSnapshot:
    return build_snapshot(load_resources([BOOKINFO], quiet=True) + resources_from_yaml(POLICIES))


@pytest.mark.parametrize(("path", "method", "allowed", "status", "policy"), [
    ("/reviews/1", "GET", True, 200, "reviews-get-only"),
    ("/admin", "GET", False, 403, "deny-admin"),
    ("/reviews/1", "POST", False, 403, "no ALLOW policy matched"),
])
def test_rbac_on_the_destination_sidecar(snapshot: MeshSnapshot, path: str, method: str, allowed: bool,
                                         status: int, policy: str) -> None:
    r = RbacSimulator(snapshot).run("productpage-v1-0.default",
                                    Request.from_url(f"http://reviews:9080{path}", method, {"end-user": "jason"}))
    assert r.destination_pods == ["reviews-v2-0.default"]
    assert (r.allowed, r.status) == (allowed, status), r.to_dict()
    assert policy in r.policy
    assert r.destinations[0].listener == f"{r.endpoints[0].address}_9080"


def test_without_rbac_filters_the_generated_config_allows(snapshot: MeshSnapshot) -> None:
    r = Simulator(snapshot).run("productpage-v1-0.default", Request.from_url("http://reviews:9080/admin"))
    assert r.allowed is True and r.policy == ""
    assert sorted(c.name.split("|")[2] for c in r.clusters) == ["v1", "v2"]


def test_cli_simulate_json_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--config", str(BOOKINFO), "--from", "productpage-v1-0.default", "-o", "json"]
    assert main([*argv, "--url", "http://reviews:9080/", "-H", "end-user: jason"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clusters"] == [{"name": "outbound|9080|v2|reviews.default.svc.cluster.local", "weight": 100,
                                "probability": 1.0}]
    assert out["destination_pods"] == ["reviews-v2-0.default"] and out["allowed"] is True
    assert main([*argv, "--url", "http://nowhere:9080/"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["virtual_host"], out["status"]) == ("block_all", 502)
    assert main([*argv, "--url", "http://reviews:9090/"]) == 1  # no egress listener on 9090
    assert main(["simulate", "--config", str(BOOKINFO), "--from", "nobody.default", "--url", "http://x/"]) == 2


def test_cli_test_passes_on_the_bundled_policy_tests() -> None:
    assert main(["test", str(REPO / "policies/tests")]) == 0


def test_cli_test_fails_on_a_wrong_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "wrong.yaml").write_text(f"""
apiVersion: policy.meshpilot.io/v1alpha1
kind: PolicyTest
metadata: {{name: wrong}}
spec:
  config: [{BOOKINFO}]
  cases:
  - name: canary is not 50/50
    from: productpage-v1-0.default
    request: {{url: "http://reviews:9080/"}}
    expect: {{weights: {{v1: 50, v2: 50}}}}
  - name: jason is not on v1
    from: productpage-v1-0.default
    request: {{url: "http://reviews:9080/", headers: {{end-user: jason}}}}
    expect: {{versions: [v1]}}
""")
    assert main(["test", str(tmp_path), "-o", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["passed"] for r in rows] == [False, False]
    assert "weights" in rows[0]["failures"][0] and "versions" in rows[1]["failures"][0]
