"""`pilot x describe pod` on Bookinfo: Istio's own sample DestinationRules and VirtualServices over the
loopback Bookinfo pods, plus PeerAuthentication and AuthorizationPolicy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pilot.describe import DescribeError, describe_pod
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.sources.memory import resources_from_yaml

REPO = Path(__file__).resolve().parents[2]
MESH = REPO / "policies/bookinfo/mesh.yaml"
SAMPLES = REPO / "tests/fixtures/istio/samples/bookinfo/networking"

SECURITY = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict-reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: STRICT}
  portLevelMtls: {9080: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-from-productpage, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/bookinfo-productpage]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-only, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
"""


def snapshot(*files: Path, extra: str = "") -> MeshSnapshot:
    text = "\n---\n".join([MESH.read_text(), *(f.read_text() for f in files), extra])
    return build_snapshot(resources_from_yaml(text))


def test_routes_and_subsets_that_reach_the_pod() -> None:
    snap = snapshot(SAMPLES / "destination-rule-all-mtls.yaml", SAMPLES / "virtual-service-reviews-jason-v2-v3.yaml")
    out = describe_pod(snap, "reviews-v3-0.default")
    text = "\n".join(out)
    assert out[0] == "Pod: reviews-v3-0.default"
    assert "Service: reviews.default" in out
    assert "   Port: http 9080/HTTP targets pod port 9080" in out
    assert 'DestinationRule: reviews.default for "reviews"' in out
    assert "   Matching subsets: v3" in out and "      (Non-matching subsets v1,v2)" in out
    assert "   Traffic Policy TLS Mode (port 9080): ISTIO_MUTUAL" in out
    assert "VirtualService: reviews.default" in out and "   2 HTTP route(s)" in out
    jason = out.index("   Route 0: when headers[end-user] exact jason")
    assert out[jason + 1] == '      to "reviews" subset "v2" weight 100%'  # not this pod
    assert out[jason + 3] == '      to "reviews" subset "v3" weight 100%  <- this pod'
    assert "Workload mTLS mode: PERMISSIVE" in text and "Applied PeerAuthentication: none" in out
    assert "AuthorizationPolicies: none (every request is allowed)" in out


def test_weights_from_the_80_20_sample() -> None:
    snap = snapshot(SAMPLES / "destination-rule-all.yaml", SAMPLES / "virtual-service-reviews-80-20.yaml")
    out = describe_pod(snap, "reviews-v1-0.default")
    assert '      to "reviews" subset "v1" weight 80%  <- this pod' in out
    assert '      to "reviews" subset "v2" weight 20%' in out
    assert "   Traffic Policy TLS Mode (port 9080): unset (auto mTLS)" in out


def test_peer_authentication_and_authorization_policies_that_select_the_pod() -> None:
    snap = snapshot(SAMPLES / "destination-rule-all.yaml", extra=SECURITY)
    out = describe_pod(snap, "reviews-v2-0.default")
    assert "   Workload mTLS mode: STRICT" in out and "   Port 9080: PERMISSIVE" in out
    assert "Applied PeerAuthentication: strict-reviews.default" in out
    assert "AuthorizationPolicies: ALLOW reviews-from-productpage.default" in out  # not ratings-only
    assert "No VirtualService (default routing: round robin over every endpoint)" in out
    details = describe_pod(snap, "details-v1-0.default")
    assert "Applied PeerAuthentication: none" in details


def test_client_tls_that_the_pod_would_refuse_is_a_warning() -> None:
    dr = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, trafficPolicy: {tls: {mode: DISABLE}}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: default}
spec: {mtls: {mode: STRICT}}
"""
    out = describe_pod(snapshot(extra=dr), "reviews-v1-0.default")
    assert "   Traffic Policy TLS Mode (port 9080): DISABLE" in out
    assert any(line.startswith("   WARNING: clients send DISABLE but the pod's PeerAuthentication is STRICT")
               for line in out), out


def test_unknown_pod() -> None:
    with pytest.raises(DescribeError, match="no pod 'nope' in namespace 'default'"):
        describe_pod(snapshot(), "nope")


def test_cli_describe_pod() -> None:
    run = [sys.executable, "-m", "pilot", "x", "describe", "pod"]
    p = subprocess.run([*run, "reviews-v2-0.default", "--config", str(REPO / "policies/bookinfo")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Matching subsets: v2" in p.stdout and '"reviews" subset "v2" weight 20%  <- this pod' in p.stdout
    p = subprocess.run([*run, "nope.default", "--config", str(REPO / "policies/bookinfo")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "no pod 'nope'" in p.stderr, p
