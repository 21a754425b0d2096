"""Schema findings: what the validating webhook would reject or warn about, reported by analysis
instead of hiding the resource (istioctl's schema.ValidationAnalyzer).

An error is IST0106 SchemaValidationError, a warning IST0133 SchemaWarning; the field path stays in the
finding's field. Istio keeps the invalid resource in the analysis context, so the other analyzers still
see it (a VirtualService naming an invalid Gateway does not also get "gateway not found").
https://istio.io/latest/docs/reference/config/analysis/ist0106/
"""

from __future__ import annotations

from collections.abc import Iterable

from pilot.analysis.messages import SCHEMA_VALIDATION_ERROR, SCHEMA_WARNING, message_text
from pilot.model.findings import Finding, Severity


def schema_finding(problem: Finding) -> Finding:
    """A validation finding re-issued under Istio's schema code, same resource, field and origin."""
    msg = SCHEMA_VALIDATION_ERROR if problem.is_error else SCHEMA_WARNING
    return Finding(code=msg[0], severity=msg[1], message=message_text(msg, problem.message), kind=problem.kind,
                   namespace=problem.namespace, name=problem.name, field=problem.field, origin=problem.origin)


def schema_findings(problems: Iterable[Finding]) -> list[Finding]:
    return [schema_finding(p) for p in problems if p.severity in (Severity.ERROR, Severity.WARNING)]
