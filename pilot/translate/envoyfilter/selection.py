"""Which EnvoyFilter patches apply to a proxy, in Istio's order, and which can never apply.

Istio (istio-reference.md §1.9, https://istio.io/latest/docs/reference/config/networking/envoy-filter/):
an EnvoyFilter in the root namespace applies to every namespace, otherwise to its own; `workloadSelector`
narrows it by labels. Filters apply by `priority`, then root namespace first, then creation time, then name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pilot.model.findings import Finding, Severity
from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

LISTENER_LEVEL = ("LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER")
ROUTE_LEVEL = ("ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE")
# Applied in this order, as istiod does while it builds clusters, then listeners, then routes.
PHASES = ("CLUSTER", *LISTENER_LEVEL, *ROUTE_LEVEL)
_ALL_OPS = ("MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE")
OPERATIONS: dict[str, tuple[str, ...]] = {
    "LISTENER": ("MERGE", "ADD", "REMOVE", "REPLACE"),
    "FILTER_CHAIN": ("MERGE", "ADD", "REMOVE", "REPLACE"),
    "NETWORK_FILTER": _ALL_OPS,
    "HTTP_FILTER": _ALL_OPS,
    "ROUTE_CONFIGURATION": ("MERGE",),
    "VIRTUAL_HOST": ("MERGE", "ADD", "REMOVE", "REPLACE"),
    "HTTP_ROUTE": _ALL_OPS,
    "CLUSTER": ("MERGE", "ADD", "REMOVE", "REPLACE"),
}
CONTEXTS = ("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY")
NEEDS_VALUE = frozenset({"MERGE", "ADD", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE"})
HCM = "envoy.filters.network.http_connection_manager"
# Deprecated names users still write (Istio's own docs used them for years).
FILTER_ALIASES = {
    "envoy.http_connection_manager": HCM,
    "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
    "envoy.router": "envoy.filters.http.router",
    "envoy.cors": "envoy.filters.http.cors",
    "envoy.fault": "envoy.filters.http.fault",
    "envoy.lua": "envoy.filters.http.lua",
    "envoy.rate_limit": "envoy.filters.http.ratelimit",
    "envoy.local_rate_limit": "envoy.filters.http.local_ratelimit",
}


def canonical_filter_name(name: str) -> str:
    return FILTER_ALIASES.get(name, name)


@dataclass(frozen=True)
class Patch:
    source: Resource
    index: int
    apply_to: str
    match: Mapping[str, Any]
    operation: str
    value: Mapping[str, Any] | None

    @property
    def field(self) -> str:
        return f"spec.configPatches[{self.index}]"

    @property
    def context(self) -> str:
        return str(self.match.get("context") or "ANY")

    def finding(self, message: str, *, code: str = "MP5001", severity: Severity = Severity.ERROR) -> Finding:
        return Finding.about(self.source, self.field, message, code=code, severity=severity)


def filter_applies(ef: Resource, view: ProxyView, root_namespace: str) -> bool:
    if ef.namespace not in (view.namespace, root_namespace) or ef.spec.get("targetRefs"):
        return False  # targetRefs (waypoints, gateways by reference) are not supported: never apply
    selector = (ef.spec.get("workloadSelector") or {}).get("labels")
    return view.matches(dict(selector or {}))


def ordered_filters(snapshot: MeshSnapshot, view: ProxyView) -> list[Resource]:
    root = snapshot.mesh.root_namespace
    chosen = [ef for ef in snapshot.of_kind("EnvoyFilter") if filter_applies(ef, view, root)]
    return sorted(chosen, key=lambda ef: (_priority(ef), ef.namespace != root, ef.creation_timestamp or "~",
                                          ef.namespace, ef.name))


def patches_for(snapshot: MeshSnapshot, view: ProxyView) -> list[Patch]:
    return [p for ef in ordered_filters(snapshot, view) for p in patches_of(ef)]


def patches_of(ef: Resource) -> list[Patch]:
    out: list[Patch] = []
    for i, cp in enumerate(ef.spec.get("configPatches") or []):
        cp = cp if isinstance(cp, Mapping) else {}
        patch = cp.get("patch") or {}
        out.append(Patch(ef, i, str(cp.get("applyTo", "")), cp.get("match") or {},
                         str(patch.get("operation", "")), patch.get("value")))
    return out


def static_problem(p: Patch) -> str:
    """Why this patch can never apply, whatever the proxy ("" when it might)."""
    if p.apply_to not in OPERATIONS:
        return f"applyTo {p.apply_to or '(none)'} is not supported (one of {', '.join(OPERATIONS)})"
    if p.operation not in OPERATIONS[p.apply_to]:
        return f"operation {p.operation or '(none)'} does not apply to {p.apply_to}"
    if p.context not in CONTEXTS:
        return f"match.context {p.context} is not one of {', '.join(CONTEXTS)}"
    if p.operation in NEEDS_VALUE and not isinstance(p.value, Mapping):
        return f"operation {p.operation} needs patch.value"
    if p.apply_to == "CLUSTER" and ("listener" in p.match or "routeConfiguration" in p.match):
        return "a CLUSTER patch can only match on cluster"
    if p.apply_to in ROUTE_LEVEL and ("listener" in p.match or "cluster" in p.match):
        return f"a {p.apply_to} patch can only match on routeConfiguration"
    if p.apply_to in LISTENER_LEVEL and ("routeConfiguration" in p.match or "cluster" in p.match):
        return f"a {p.apply_to} patch can only match on listener"
    net = ((p.match.get("listener") or {}).get("filterChain") or {}).get("filter") or {}
    if p.apply_to == "HTTP_FILTER" and net.get("name") and canonical_filter_name(str(net["name"])) != HCM:
        return f"HTTP filters live in {HCM}, not in {net['name']}"
    return ""


def _priority(ef: Resource) -> int:
    try:
        return int(ef.spec.get("priority") or 0)
    except (TypeError, ValueError):
        return 0
