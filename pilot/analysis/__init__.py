"""Cross-resource analysis (what `istioctl analyze` does): findings with Istio's IST codes."""

from __future__ import annotations

from pilot.analysis.jwt_claims import jwt_claim_routing_findings
from pilot.analysis.virtualservices import analyze_virtual_services
from pilot.analysis.workloads import (
    authorization_policy_findings,
    destination_rule_findings,
    port_name_findings,
    sidecar_findings,
)
from pilot.model.findings import Finding
from pilot.model.snapshot import MeshSnapshot

ANALYZERS = (analyze_virtual_services, destination_rule_findings, sidecar_findings,
             authorization_policy_findings, port_name_findings, jwt_claim_routing_findings)


def analyze(snapshot: MeshSnapshot) -> list[Finding]:
    findings = [f for analyzer in ANALYZERS for f in analyzer(snapshot)]
    return sorted(findings, key=lambda f: (f.origin.path, f.origin.line, f.code, f.field))


__all__ = ["ANALYZERS", "analyze"]
