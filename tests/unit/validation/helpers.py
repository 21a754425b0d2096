"""Helpers for the table-driven validation tests (see conftest.py for the case format)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pilot.model.findings import Finding
from pilot.model.resource import Origin, Resource, resource_from_document

API_VERSIONS = {
    "VirtualService": "networking.istio.io/v1", "DestinationRule": "networking.istio.io/v1",
    "Sidecar": "networking.istio.io/v1", "Gateway": "networking.istio.io/v1",
    "ServiceEntry": "networking.istio.io/v1", "WorkloadEntry": "networking.istio.io/v1",
    "EnvoyFilter": "networking.istio.io/v1alpha3", "PeerAuthentication": "security.istio.io/v1",
    "AuthorizationPolicy": "security.istio.io/v1", "RequestAuthentication": "security.istio.io/v1",
    "RateLimitPolicy": "policy.meshpilot.io/v1alpha1", "Telemetry": "telemetry.istio.io/v1",
    "Service": "v1", "Pod": "v1", "Namespace": "v1",
    "Secret": "v1", "EndpointSlice": "discovery.k8s.io/v1",
}


def make_resource(kind: str, spec: Any = None, *, name: str = "demo", namespace: str = "default",
                  body: dict[str, Any] | None = None) -> Resource:
    doc: dict[str, Any] = {"apiVersion": API_VERSIONS[kind], "kind": kind,
                           "metadata": {"name": name, "namespace": namespace}}
    if spec is not None:
        doc["spec"] = spec
    doc.update(body or {})
    return resource_from_document(doc, Origin("test.yaml", 1))


def assert_findings(findings: Sequence[Finding], expected: Sequence[tuple[str, ...]]) -> None:
    wanted = [("error", *e) if len(e) == 2 else ("warning" if e[0] == "W" else "error", e[1], e[2])
              for e in expected]
    actual = [(f.severity.value, f.field, f.message) for f in findings]
    unmatched = list(actual)
    missing = []
    for severity, field, text in wanted:
        hit = next((a for a in unmatched if a[0] == severity and a[1] == field and text in a[2]), None)
        if hit is None:
            missing.append((severity, field, text))
        else:
            unmatched.remove(hit)
    assert not missing and not unmatched, f"missing: {missing}\nunexpected: {unmatched}\nall: {actual}"
