"""The bootstraps in envoy-configs/ are what `pilot bootstrap` writes, and Envoy accepts them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from pilot.bootstrap import bootstrap
from pilot.testing.envoy import envoy_binary

CONFIGS = Path(__file__).resolve().parents[2] / "envoy-configs"
EXAMPLES = {
    "sidecar-productpage.yaml": ("sidecar~127.10.0.10~productpage-v1-0.default~default.svc.cluster.local", ""),
    "gateway-ingress.yaml": ("router~127.10.0.40~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local",
                             "127.10.2.40:15000"),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_matches_the_generator_and_envoy_accepts_it(name: str) -> None:
    node_id, admin = EXAMPLES[name]
    assert yaml.safe_load((CONFIGS / name).read_text()) == bootstrap(node_id, admin_address=admin)
    r = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(CONFIGS / name), "--use-dynamic-base-id",
                        "--log-level", "error"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "OK" in r.stdout + r.stderr, r.stdout + r.stderr


def test_bootstrap_rejects_a_malformed_node_id() -> None:
    from pilot.cli import main

    assert main(["bootstrap", "--node-id", "sidecar~no-pod"]) == 2
