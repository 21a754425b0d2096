"""Analyzers about what selects what: DestinationRule subsets and hosts (IST0173/IST0174) and Sidecar
selectors (IST0101/IST0110/IST0111). Selection is against every Pod, with or without an IP
(pilot.analysis.pods), as istioctl matches Pod objects.
"""

from __future__ import annotations

from typing import Any

from pilot.analysis.hosts import host_known
from pilot.analysis.messages import (
    CONFLICTING_SIDECAR_SELECTORS,
    DR_HOST_NOT_FOUND,
    MULTIPLE_SIDECARS_WITHOUT_SELECTOR,
    REFERENCED_RESOURCE_NOT_FOUND,
    SUBSET_SELECTS_NO_PODS,
    labels_text,
    report,
)
from pilot.analysis.pods import analysis_workloads, selected
from pilot.model.findings import Finding
from pilot.model.resource import Resource
from pilot.model.scope import resolve_host
from pilot.model.snapshot import MeshSnapshot


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(value).items()}


def destination_rule_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    for dr in snapshot.of_kind("DestinationRule"):
        raw = str(dr.spec.get("host", ""))
        host = resolve_host(raw, dr.namespace, snapshot.mesh.domain_suffix)
        if "*" in host:
            continue
        if not host_known(snapshot, host, dr.namespace):
            out.append(report(DR_HOST_NOT_FOUND, dr, "spec.host", raw))
            continue
        svc = snapshot.services.get(host)
        if svc is None or not svc.selector:
            continue  # ServiceEntry hosts and selector-less Services: their endpoints are not pods
        backends = [w.labels for w in selected(snapshot, svc.namespace, svc.selector)]
        subsets = dr.spec.get("subsets")
        for i, subset in enumerate(subsets if isinstance(subsets, list) else []):
            want = _labels(_dict(subset).get("labels"))
            if not any(all(lbl.get(k) == v for k, v in want.items()) for lbl in backends):
                out.append(report(SUBSET_SELECTS_NO_PODS, dr, f"spec.subsets[{i}]", _dict(subset).get("name")))
    return out


def _sidecar_selector(sc: Resource) -> dict[str, str]:
    return _labels(_dict(sc.spec.get("workloadSelector")).get("labels"))


def sidecar_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    sidecars = snapshot.of_kind("Sidecar")
    workloads = analysis_workloads(snapshot)
    for sc in sidecars:
        labels = _sidecar_selector(sc)
        if labels and not selected(snapshot, sc.namespace, labels):
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, sc, "spec.workloadSelector", "selector",
                              labels_text(labels)))
    selective: dict[str, list[tuple[Resource, dict[str, str]]]] = {}
    for sc in sidecars:
        if _sidecar_selector(sc):
            selective.setdefault(sc.namespace, []).append((sc, _sidecar_selector(sc)))
    for w in workloads:
        selecting = [sc for sc, labels in selective.get(w.namespace, []) if w.matches(labels)]
        if len(selecting) > 1:
            names = "[" + " ".join(sc.name for sc in selecting) + "]"
            out.extend(report(CONFLICTING_SIDECAR_SELECTORS, sc, "spec.workloadSelector", names, w.namespace, w.name)
                       for sc in selecting)
    by_ns: dict[str, list[str]] = {}
    for sc in sidecars:
        if not _sidecar_selector(sc):
            by_ns.setdefault(sc.namespace, []).append(sc.name)
    for sc in sidecars:
        unselective = by_ns.get(sc.namespace, [])
        if not _sidecar_selector(sc) and len(unselective) > 1:
            out.append(report(MULTIPLE_SIDECARS_WITHOUT_SELECTOR, sc, "spec", "[" + " ".join(unselective) + "]",
                              sc.namespace))
    return out
