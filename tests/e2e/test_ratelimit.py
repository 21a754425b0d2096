"""Issue 5 through real Envoy: Istio's EnvoyFilter rate-limit recipe, RateLimitPolicy, global limits."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pilot.testing.mesh import LoopbackMesh, PodSpec
from pilot.testing.redis_server import redis_server
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies/ratelimit"

StartMesh = Callable[..., MeshRunner]


@pytest.fixture
def start_mesh(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StartMesh]:
    """Start a loopback mesh of `workloads` with extra config files; stopped by PID afterwards."""
    runners: list[MeshRunner] = []

    def start(workloads: list[tuple[str, str]], files: Sequence[Path] = (),
              serve_args: list[str] | None = None) -> MeshRunner:
        mesh = LoopbackMesh.build(workloads)
        cfg = tmp_path / f"config{len(runners)}"
        cfg.mkdir()
        (cfg / "mesh.yaml").write_text(mesh.yaml())
        for f in files:
            shutil.copy(f, cfg)
        runner = MeshRunner(cfg, mesh, extra_serve_args=serve_args)
        runners.append(runner)
        runner.start_all()
        return runner

    try:
        yield start
    finally:
        failed = getattr(request.node, "rep_call", None)
        for r in runners:
            if failed is not None and failed.failed:
                print(r.report())
            r.stop()


def burst(pod: PodSpec, host: str, n: int, path: str = "/", headers: dict[str, str] | None = None,
          parallel: int = 10) -> list[tuple[int, dict[str, str]]]:
    """n requests over `parallel` keep-alive connections, so the burst is over well inside a fill interval."""
    clients = [MeshClient(pod) for _ in range(parallel)]

    def run(i: int) -> list[tuple[int, dict[str, str]]]:
        out = []
        for _ in range(i, n, parallel):
            status, hdrs, _ = clients[i].request(host, path, headers)
            out.append((status, hdrs))
        return out

    with ThreadPoolExecutor(parallel) as pool:
        results = [r for chunk in pool.map(run, range(parallel)) for r in chunk]
    for c in clients:
        c.close()
    return results


def no_rejections(runner: MeshRunner) -> None:
    for pod in runner.mesh.pods:
        assert runner.envoy_stat(pod, "update_rejected") == 0, f"{pod.name} rejected config"


def test_istio_task_local_rate_limit_recipe_limits_a_sidecar_to_10_per_second(start_mesh: StartMesh) -> None:
    runner = start_mesh([("productpage", "v1"), ("ratings", "v1")], [POLICIES / "local-ratelimit-envoyfilter.yaml"])
    start = time.monotonic()
    results = burst(runner.mesh.pod("ratings"), "productpage", 100)
    took = time.monotonic() - start
    statuses = Counter(s for s, _ in results)
    assert statuses[200] + statuses[429] == 100, statuses
    assert abs(statuses[200] - 10) <= 2, (statuses, took)
    limited = [h for s, h in results if s == 429]
    assert all(h.get("x-local-rate-limit") == "true" for h in limited), limited[:3]
    no_rejections(runner)


def test_per_route_limit_applies_to_api_and_not_to_root(start_mesh: StartMesh) -> None:
    runner = start_mesh([("productpage", "v1"), ("ratings", "v1")], [POLICIES / "per-route-local-ratelimit.yaml"])
    client = runner.mesh.pod("ratings")
    api = Counter(s for s, _ in burst(client, "productpage", 100, "/api/v1/products"))
    root = Counter(s for s, _ in burst(client, "productpage", 100, "/"))
    assert abs(api[200] - 10) <= 2 and api[200] + api[429] == 100, api
    assert root == {200: 100}, root
    no_rejections(runner)


BAD_PATCHES = """
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: broken
  namespace: default
spec:
  workloadSelector:
    labels: {app: productpage}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimitt
          stat_prefix: typo
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: envoy.filters.network.tcp_proxy}}}
    patch:
      operation: INSERT_FIRST
      value: {name: envoy.filters.http.buffer}
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}
    patch:
      operation: ADD
      value:
        name: after-router
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: after_router
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: good_patch
          token_bucket: {max_tokens: 1000, tokens_per_fill: 1000, fill_interval: 1s}
          filter_enabled: {default_value: {numerator: 100}, runtime_key: good_patch_enabled}
"""


def test_bad_patches_are_reported_and_envoy_sends_no_nack(start_mesh: StartMesh) -> None:
    runner = start_mesh([("productpage", "v1"), ("ratings", "v1")])
    (runner.config_dir / "broken.yaml").write_text(BAD_PATCHES)
    pp = runner.mesh.pod("productpage")
    deadline = time.monotonic() + 10
    found: list[dict] = []
    while time.monotonic() < deadline and len(found) < 3:
        found = json.loads(runner.http("/debug/configz")[1]).get("translation_findings", {}).get(pp.node_id, [])
        time.sleep(0.1)
    assert sorted((f["field"], f["code"]) for f in found) == [
        ("spec.configPatches[0]", "MP5001"), ("spec.configPatches[1]", "MP5001"), ("spec.configPatches[2]", "MP5002")]
    assert all(f["file"].endswith("broken.yaml") and f["name"] == "broken" for f in found), found
    assert "LocalRateLimitt" in found[0]["message"]
    runner.wait_synced(5)
    no_rejections(runner)
    statuses = Counter(s for s, _ in burst(runner.mesh.pod("ratings"), "productpage", 50))
    assert statuses == {200: 50}, statuses
    # The good patch of the same EnvoyFilter did reach Envoy.
    assert runner.envoy_stat(pp, "good_patch.http_local_rate_limit.enabled") == 50


def test_rate_limit_policy_keyed_on_a_header_limits_each_value_separately(start_mesh: StartMesh) -> None:
    runner = start_mesh([("productpage", "v1"), ("ratings", "v1")], [POLICIES / "ratelimitpolicy-per-user.yaml"])
    client = runner.mesh.pod("ratings")
    by_user = {user: burst(client, "productpage", 30, "/api/items", {"x-user": user}, parallel=5)
               for user in ("jason", "maria", "kim")}
    for user, results in by_user.items():
        statuses = Counter(s for s, _ in results)
        # 5 tokens per 10 s, refilled continuously: a slow burst may earn one more.
        assert statuses[200] in (5, 6) and statuses[200] + statuses[429] == 30, (user, statuses)
        assert all(h.get("x-ratelimited-by") == "meshpilot" for s, h in results if s == 429), user
    # Outside the rule's path nobody is limited.
    assert Counter(s for s, _ in burst(client, "productpage", 30, "/", {"x-user": "jason"})) == {200: 30}
    no_rejections(runner)


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def test_global_limit_is_shared_by_two_sidecars_through_redis(start_mesh: StartMesh, redis_url: str) -> None:
    runner = start_mesh([("productpage", "v1"), ("productpage", "v2"), ("ratings", "v1")],
                        [POLICIES / "ratelimitpolicy-global.yaml"], serve_args=["--ratelimit-redis", redis_url])
    results = burst(runner.mesh.pod("ratings"), "productpage", 60)
    statuses = Counter(s for s, _ in results)
    assert statuses[200] + statuses[429] == 60 and abs(statuses[200] - 20) <= 2, statuses
    assert all(h.get("x-ratelimited-by") == "meshpilot-global" for s, h in results if s == 429)
    # Both productpage sidecars asked the service, and between them let 20 through.
    asked = {p.version: (runner.envoy_stat(p, "all_requests.ok"), runner.envoy_stat(p, "all_requests.over_limit"))
             for p in runner.mesh.pods if p.service == "productpage"}
    assert all(ok + over > 0 for ok, over in asked.values()), asked
    assert sum(ok for ok, _ in asked.values()) == statuses[200], asked
    # The bucket lives in Redis (where other replicas would find it), not in the control plane.
    import redis

    client = redis.Redis.from_url(redis_url)
    assert [k.decode() for k in client.keys("meshpilot:rl:*")] == [
        "meshpilot:rl:meshpilot|meshpilot_rule=default/productpage-global/all-requests"]
    client.close()
    metrics = runner.http("/metrics")[1].decode()
    assert f'meshpilot_ratelimit_decisions_total{{code="ok"}} {float(statuses[200])}' in metrics, metrics
    no_rejections(runner)
