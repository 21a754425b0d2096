"""AuthorizationPolicy analyzers.

Istio's AuthorizationPoliciesAnalyzer (istio/istio pkg/config/analysis/analyzers/authz):
- IST0127 NoMatchingWorkloadsFound: a selector matching no Pod (in the policy's namespace; anywhere in
  the mesh for the root namespace), or a namespace-wide policy in a namespace without Pods;
- IST0101 namespace: `from.source.namespaces` / `notNamespaces` naming a namespace that does not exist
  (`*`, `prefix*` and `*suffix` patterns match as Istio matches them).
meshpilot adds, under the same IST0101 code:
- principal: `<trust domain>/ns/<ns>/sa/<sa>` (this mesh's trust domain, no wildcard) naming a service
  account no workload runs as, so the rule can never match a peer in this mesh;
- port: `to.operation.ports` / `notPorts` naming a port none of the selected workloads listens on (the
  target ports of Services selecting them and their container ports; ports are workload ports).
https://istio.io/latest/docs/reference/config/analysis/ist0127/
"""

from __future__ import annotations

from typing import Any

from pilot.analysis.messages import NO_MATCHING_WORKLOADS, REFERENCED_RESOURCE_NOT_FOUND, labels_text, report
from pilot.analysis.pods import analysis_workloads, namespaces, selected
from pilot.model.findings import Finding
from pilot.model.registry import Workload
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _selector(ap: Resource) -> dict[str, str] | None:
    sel = ap.spec.get("selector")
    if not isinstance(sel, dict):
        return None
    return {str(k): str(v) for k, v in _dict(sel.get("matchLabels")).items()}


def selected_workloads(snapshot: MeshSnapshot, ap: Resource) -> list[Workload]:
    selector = _selector(ap) or {}
    mesh_wide = ap.namespace == snapshot.mesh.root_namespace
    return selected(snapshot, None if mesh_wide else ap.namespace, selector)


def _no_matching_workloads(snapshot: MeshSnapshot, ap: Resource) -> list[Finding]:
    selector = _selector(ap)
    if ap.namespace == snapshot.mesh.root_namespace and selector is None:
        return []  # a mesh-wide policy without selector applies to whatever exists
    if selected_workloads(snapshot, ap):
        return []
    return [report(NO_MATCHING_WORKLOADS, ap, "spec.selector" if selector is not None else "spec",
                   labels_text(selector or {}))]


def namespace_pattern_matches(pattern: str, namespace: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return namespace.endswith(pattern[1:])
    if pattern.endswith("*"):
        return namespace.startswith(pattern[:-1])
    return pattern.lower() == namespace.lower()


def _sources(ap: Resource) -> list[tuple[str, dict[str, Any]]]:
    return [(f"spec.rules[{i}].from[{j}].source", _dict(_dict(f).get("source")))
            for i, rule in enumerate(_items(ap.spec.get("rules")))
            for j, f in enumerate(_items(_dict(rule).get("from")))]


def _operations(ap: Resource) -> list[tuple[str, dict[str, Any]]]:
    return [(f"spec.rules[{i}].to[{j}].operation", _dict(_dict(t).get("operation")))
            for i, rule in enumerate(_items(ap.spec.get("rules")))
            for j, t in enumerate(_items(_dict(rule).get("to")))]


def _unknown_namespaces(snapshot: MeshSnapshot, ap: Resource) -> list[Finding]:
    existing = namespaces(snapshot)
    out = []
    for where, source in _sources(ap):
        for field in ("namespaces", "notNamespaces"):
            for k, ns in enumerate(_items(source.get(field))):
                if not any(namespace_pattern_matches(str(ns), e) for e in existing):
                    out.append(report(REFERENCED_RESOURCE_NOT_FOUND, ap, f"{where}.{field}[{k}]", "namespace", ns))
    return out


def _identities(snapshot: MeshSnapshot) -> frozenset[str]:
    key = "analysis.identities"
    cached = snapshot.memo.get(key)
    if not isinstance(cached, frozenset):
        td = snapshot.mesh.trust_domain
        cached = frozenset(f"{td}/ns/{w.namespace}/sa/{w.service_account}" for w in analysis_workloads(snapshot))
        snapshot.memo[key] = cached
    return cached


def _unknown_principals(snapshot: MeshSnapshot, ap: Resource) -> list[Finding]:
    prefix = f"{snapshot.mesh.trust_domain}/ns/"
    identities = _identities(snapshot)
    out = []
    for where, source in _sources(ap):
        for field in ("principals", "notPrincipals"):
            for k, principal in enumerate(_items(source.get(field))):
                p = str(principal)
                if p.startswith(prefix) and "*" not in p and "/sa/" in p and p not in identities:
                    out.append(report(REFERENCED_RESOURCE_NOT_FOUND, ap, f"{where}.{field}[{k}]", "principal", p))
    return out


def _ports_by_workload(snapshot: MeshSnapshot) -> dict[tuple[str, str], set[int]]:
    """Target ports of the Services selecting each workload, plus its container ports (once per snapshot)."""
    key = "analysis.ports_by_workload"
    cached = snapshot.memo.get(key)
    if isinstance(cached, dict):
        return cached
    ports: dict[tuple[str, str], set[int]] = {}
    for w in analysis_workloads(snapshot):
        ports.setdefault((w.namespace, w.name), set()).update(w.container_ports)
    for svc in snapshot.services.values():
        if svc.selector:
            for w in selected(snapshot, svc.namespace, svc.selector):
                ports.setdefault((w.namespace, w.name), set()).update(p.target_port for p in svc.ports)
    snapshot.memo[key] = ports
    return ports


def _workload_ports(snapshot: MeshSnapshot, workloads: list[Workload]) -> set[int]:
    by_workload = _ports_by_workload(snapshot)
    return {p for w in workloads for p in by_workload.get((w.namespace, w.name), set())}


def _unknown_ports(snapshot: MeshSnapshot, ap: Resource) -> list[Finding]:
    listening = _workload_ports(snapshot, selected_workloads(snapshot, ap))
    if not listening:
        return []  # nothing known about the workloads' ports: nothing to compare with
    out = []
    for where, operation in _operations(ap):
        for field in ("ports", "notPorts"):
            for k, port in enumerate(_items(operation.get(field))):
                if str(port).isdigit() and int(str(port)) not in listening:
                    out.append(report(REFERENCED_RESOURCE_NOT_FOUND, ap, f"{where}.{field}[{k}]", "port", str(port)))
    return out


def authorization_policy_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out: list[Finding] = []
    for ap in snapshot.of_kind("AuthorizationPolicy"):
        out += (_no_matching_workloads(snapshot, ap) + _unknown_namespaces(snapshot, ap)
                + _unknown_principals(snapshot, ap) + _unknown_ports(snapshot, ap))
    return out
