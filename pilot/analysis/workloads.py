"""Analyzers about what selects what: DestinationRule subsets and hosts (IST0173/IST0174), Sidecar
selectors (IST0101/IST0110/IST0111), AuthorizationPolicy selectors (IST0127), Service port names (IST0118).
"""

from __future__ import annotations

from pilot.analysis.hosts import host_known
from pilot.analysis.messages import (
    CONFLICTING_SIDECAR_SELECTORS,
    DR_HOST_NOT_FOUND,
    MULTIPLE_SIDECARS_WITHOUT_SELECTOR,
    NO_MATCHING_WORKLOADS,
    PORT_NAME_CONVENTION,
    REFERENCED_RESOURCE_NOT_FOUND,
    SUBSET_SELECTS_NO_PODS,
    labels_text,
    report,
)
from pilot.model.findings import Finding
from pilot.model.registry import protocol_for_port
from pilot.model.scope import resolve_host
from pilot.model.snapshot import MeshSnapshot

# Istio's PortNameAnalyzer leaves the system namespaces alone.
SYSTEM_NAMESPACES = ("kube-system", "istio-system")


def destination_rule_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    for dr in snapshot.of_kind("DestinationRule"):
        raw = str(dr.spec.get("host", ""))
        host = resolve_host(raw, dr.namespace, snapshot.mesh.domain_suffix)
        if "*" in host:
            continue
        if not host_known(snapshot, host):
            out.append(report(DR_HOST_NOT_FOUND, dr, "spec.host", raw))
            continue
        svc = snapshot.services.get(host)
        if svc is None:
            continue  # ServiceEntry hosts: their endpoints are not pods
        labels_seen = [e.labels for p in svc.ports for e in snapshot.service_endpoints(host, p.port)]
        for i, subset in enumerate(dr.spec.get("subsets") or []):
            want = dict(subset.get("labels") or {})
            if not any(all(lbl.get(k) == v for k, v in want.items()) for lbl in labels_seen):
                out.append(report(SUBSET_SELECTS_NO_PODS, dr, f"spec.subsets[{i}]", subset.get("name")))
    return out


def sidecar_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    sidecars = snapshot.of_kind("Sidecar")
    for sc in sidecars:
        labels = dict((sc.spec.get("workloadSelector") or {}).get("labels") or {})
        if labels and not any(w.namespace == sc.namespace and w.matches(labels) for w in snapshot.workloads):
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, sc, "spec.workloadSelector", "selector",
                              labels_text(labels)))
    for w in snapshot.workloads:
        selecting = [sc for sc in sidecars if sc.namespace == w.namespace
                     and (sc.spec.get("workloadSelector") or {}).get("labels")
                     and w.matches(dict(sc.spec["workloadSelector"]["labels"]))]
        if len(selecting) > 1:
            names = "[" + " ".join(sc.name for sc in selecting) + "]"
            out.extend(report(CONFLICTING_SIDECAR_SELECTORS, sc, "spec.workloadSelector", names, w.namespace, w.name)
                       for sc in selecting)
    by_ns: dict[str, list[str]] = {}
    for sc in sidecars:
        if not sc.spec.get("workloadSelector"):
            by_ns.setdefault(sc.namespace, []).append(sc.name)
    for sc in sidecars:
        unselective = by_ns.get(sc.namespace, [])
        if not sc.spec.get("workloadSelector") and len(unselective) > 1:
            out.append(report(MULTIPLE_SIDECARS_WITHOUT_SELECTOR, sc, "spec", "[" + " ".join(unselective) + "]",
                              sc.namespace))
    return out


def authorization_policy_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    root = snapshot.mesh.root_namespace
    for ap in snapshot.of_kind("AuthorizationPolicy"):
        labels = dict((ap.spec.get("selector") or {}).get("matchLabels") or {})
        if not labels:
            continue
        if not any((ap.namespace == root or w.namespace == ap.namespace) and w.matches(labels)
                   for w in snapshot.workloads):
            out.append(report(NO_MATCHING_WORKLOADS, ap, "spec.selector", labels_text(labels)))
    return out


def port_name_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    for svc_res in snapshot.of_kind("Service"):
        if svc_res.namespace in SYSTEM_NAMESPACES:
            continue
        for i, port in enumerate(svc_res.spec.get("ports") or []):
            if port.get("appProtocol"):
                continue
            name = str(port.get("name") or "")
            if protocol_for_port(name) == "AUTO":
                out.append(report(PORT_NAME_CONVENTION, svc_res, f"spec.ports[{i}].name", name,
                                  port.get("port"), port.get("targetPort", port.get("port"))))
    return out
