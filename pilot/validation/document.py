"""Checks of a parsed YAML document before it becomes a Resource: shape, apiVersion/kind, name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilot.model.findings import SKIPPED_KIND_CODE, Finding, Severity
from pilot.model.kinds import KINDS, internal_kind, kind_info
from pilot.model.resource import CLUSTER_SCOPED, Origin
from pilot.validation.fields import is_dns1123_label, is_dns1123_subdomain

CODE_BAD_DOCUMENT = "MP0102"
CODE_UNKNOWN_KIND = SKIPPED_KIND_CODE
_SERVED_GROUPS = frozenset(info.group for info in KINDS.values())
# Kubernetes requires these kinds' names to be DNS-1123 labels (no dots); the rest allow subdomains.
_LABEL_NAMED = frozenset({"Namespace", "Service", "KnativeService", "KnativeConfiguration", "KnativeRoute",
                          "KnativeRevision"})


def document_findings(doc: Any, origin: Origin) -> list[Finding]:
    if doc is None:
        return []  # an empty document, e.g. between two `---`
    if not isinstance(doc, Mapping):
        return [_finding(origin, f"document must be a mapping with apiVersion, kind and metadata, "
                                 f"got {type(doc).__name__}")]
    meta = doc.get("metadata")
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    ident = (str(kind or ""), str(namespace or ""), str(name or ""))
    found = []
    if not isinstance(api_version, str) or not api_version:
        found.append(_finding(origin, "apiVersion is required", field="apiVersion", ident=ident))
    if not isinstance(kind, str) or not kind:
        found.append(_finding(origin, "kind is required", field="kind", ident=ident))
    if meta is not None and not isinstance(meta, Mapping):
        found.append(_finding(origin, "metadata must be a mapping", field="metadata", ident=ident))
    elif not isinstance(name, str) or not name:
        found.append(_finding(origin, "metadata.name is required", field="metadata.name", ident=ident))
    if found:
        return found
    assert isinstance(kind, str) and isinstance(api_version, str) and isinstance(name, str)
    kind = internal_kind(api_version, kind)
    info = kind_info(kind)
    if info is None:
        return [_finding(origin, f"unknown kind {kind}: skipped", code=CODE_UNKNOWN_KIND,
                         severity=Severity.WARNING, ident=ident)]
    group = api_version.rpartition("/")[0]
    if group not in _SERVED_GROUPS:
        # Same kind name, another API (Gateway API's gateway.networking.k8s.io Gateway is not Istio's
        # Gateway): a kind we do not serve, skipped like any other, never read as ours.
        return [_finding(origin, f"unknown kind {kind} ({group or 'core'} API): skipped", code=CODE_UNKNOWN_KIND,
                         severity=Severity.WARNING, ident=ident)]
    if not info.accepts(api_version):
        served = ", ".join(f"{info.group}/{v}" if info.group else v for v in info.versions)
        found.append(_finding(origin, f"apiVersion {api_version} is not served for {info.served_kind} "
                                      f"(served: {served})",
                              field="apiVersion", ident=ident))
    if kind in _LABEL_NAMED and not is_dns1123_label(name):
        found.append(_finding(origin, f"invalid name {name!r}: must be a DNS-1123 label (lowercase "
                                      "letters, digits and '-', at most 63 characters)",
                              field="metadata.name", ident=ident))
    elif not is_dns1123_subdomain(name):
        found.append(_finding(origin, f"invalid name {name!r}: must be a DNS-1123 subdomain (lowercase "
                                      "letters, digits, '-' and '.')", field="metadata.name", ident=ident))
    if namespace is not None and kind not in CLUSTER_SCOPED and (
            not isinstance(namespace, str) or not is_dns1123_label(namespace)):
        found.append(_finding(origin, f"invalid namespace {namespace!r}: must be a DNS-1123 label",
                              field="metadata.namespace", ident=ident))
    return found


def _finding(origin: Origin, message: str, *, field: str = "", ident: tuple[str, str, str] = ("", "", ""),
             code: str = CODE_BAD_DOCUMENT, severity: Severity = Severity.ERROR) -> Finding:
    kind, namespace, name = ident
    return Finding(code=code, severity=severity, message=message, kind=kind, namespace=namespace, name=name,
                   field=field, origin=origin)
