"""Validation of every resource, like Istio's validating webhook (the former Galley role).

    validate_document(doc, origin)  -> findings about a parsed YAML document (shape, kind, name)
    validate_resource(resource)     -> findings about one Resource (errors and warnings)
    check_document(doc, origin)     -> both, plus the Resource when the document made one

Each finding names the field (`spec.http[0].route[1].weight`) and reads like Istio's message.
Validators live one module per kind family; `registry.VALIDATORS` maps kinds to them. Then
`strict.check_document_fields` rejects fields the kind's schema does not name (`schema.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pilot.model.findings import Finding
from pilot.model.resource import Origin, Resource, resource_from_document
from pilot.validation.document import document_findings
from pilot.validation.fields import check_labels
from pilot.validation.node import Report
from pilot.validation.registry import VALIDATORS
from pilot.validation.strict import check_document_fields

__all__ = ["check_document", "validate_document", "validate_resource"]

_log = logging.getLogger(__name__)


def validate_resource(res: Resource) -> list[Finding]:
    """Errors and warnings for one resource; none for kinds meshpilot does not know."""
    entry = VALIDATORS.get(res.kind)
    if entry is None:
        return []
    report = Report(res)
    root = report.node("spec", res.spec) if entry.root == "spec" else report.node("", res.body)
    if not isinstance(root.value, Mapping):
        root.error("must be an object")
        return report.findings
    try:
        entry.check(report, root)
        # Kubernetes checks label syntax on every object (what the API server would refuse).
        metadata = res.body.get("metadata") if isinstance(res.body, Mapping) else None
        if isinstance(metadata, Mapping):
            check_labels(report.node("metadata.labels", metadata.get("labels")))
        # After the kind's checks, so a value they already found wrong is not reported twice.
        check_document_fields(report, _document(res), {f.field for f in report.findings})
    except Exception as problem:  # a validator bug must reject the resource, not crash the caller
        _log.exception("validator for %s crashed", res.kind)
        report.error("", f"internal error while validating: {problem!r}")
    return report.findings


def _document(res: Resource) -> Mapping[str, Any]:
    """The whole document; resources built in code without one still have their spec checked."""
    if res.body:
        return res.body
    return {"spec": res.spec} if res.spec else {}


def validate_document(doc: Any, origin: Origin) -> list[Finding]:
    """Findings about a document before a Resource exists: not a mapping, apiVersion/kind/metadata.name
    missing, unknown kind (a warning: skipped), apiVersion not served for the kind, or a bad name."""
    return document_findings(doc, origin)


def check_document(doc: Any, origin: Origin, default_namespace: str = "default"
                   ) -> tuple[Resource | None, list[Finding]]:
    """Document and resource findings together; the Resource when the document is usable (a known
    kind without document-level errors), even if the resource itself has errors."""
    findings = validate_document(doc, origin)
    if doc is None or findings:
        return None, findings
    resource = resource_from_document(doc, origin, default_namespace)
    return resource, validate_resource(resource)
