"""Cross-resource analysis (what `istioctl analyze` does): findings with Istio's IST codes.

    analyze(snapshot)            -> findings of every analyzer over a snapshot
    analyze_resources(resources) -> schema findings (IST0106/IST0133) for invalid resources, then every
                                    analyzer over all resources, invalid ones included, as Istio does
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pilot.analysis.authz import authorization_policy_findings
from pilot.analysis.destination_tls import server_verification_findings
from pilot.analysis.gateways import analyze_gateways
from pilot.analysis.jwt_claims import jwt_claim_routing_findings
from pilot.analysis.mtls import mtls_conflict_findings
from pilot.analysis.ports import port_name_findings
from pilot.analysis.schema import schema_findings
from pilot.analysis.virtualservices import analyze_virtual_services
from pilot.analysis.workloads import destination_rule_findings, sidecar_findings
from pilot.model.findings import Finding
from pilot.model.mesh import MeshConfig
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.validation import validate_resource

Analyzer = Callable[[MeshSnapshot], list[Finding]]

ANALYZERS: tuple[Analyzer, ...] = (
    analyze_virtual_services, destination_rule_findings, sidecar_findings, authorization_policy_findings,
    port_name_findings, jwt_claim_routing_findings, analyze_gateways, mtls_conflict_findings,
    server_verification_findings)

# What an analyzer raises when an invalid resource has a shape it does not expect.
_SHAPE_ERRORS = (TypeError, AttributeError, KeyError, ValueError)


def _natural(text: str) -> tuple[object, ...]:
    """`http[8]` sorts before `http[23]`."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted by where they are, duplicates dropped (istioctl prints each distinct message once)."""
    unique = dict.fromkeys(findings)
    return sorted(unique, key=lambda f: (_natural(f.origin.path), f.origin.line, f.kind, _natural(f.namespace),
                                         _natural(f.name), _natural(f.field), f.code, _natural(f.message)))


def analyze(snapshot: MeshSnapshot, fallback: MeshSnapshot | None = None) -> list[Finding]:
    """Every analyzer over `snapshot`; one that trips over a malformed resource runs again over
    `fallback` (the valid resources only) instead of failing the whole analysis."""
    findings: list[Finding] = []
    for analyzer in ANALYZERS:
        try:
            findings += analyzer(snapshot)
        except _SHAPE_ERRORS:
            if fallback is None:
                raise
            findings += analyzer(fallback)
    return sort_findings(findings)


def analyze_resources(resources: Iterable[Resource], mesh: MeshConfig | None = None) -> list[Finding]:
    """Schema findings for each resource that fails validation, and the analyzers over all of them:
    an invalid resource is reported, not dropped, and the rest is still analysed."""
    resources = list(resources)
    schema: list[Finding] = []
    valid: list[Resource] = []
    for r in resources:
        problems = validate_resource(r)
        schema += schema_findings(problems)
        if not any(p.is_error for p in problems):
            valid.append(r)
    valid_snapshot = build_snapshot(valid, mesh)
    if len(valid) == len(resources):
        return sort_findings(schema + analyze(valid_snapshot))
    try:
        full = build_snapshot(resources, mesh)
    except _SHAPE_ERRORS:
        full = valid_snapshot  # an invalid Service or Pod the registry cannot index
    return sort_findings(schema + analyze(full, fallback=valid_snapshot))


__all__ = ["ANALYZERS", "analyze", "analyze_resources", "sort_findings"]
