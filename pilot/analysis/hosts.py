"""Which hosts a namespace can see: Kubernetes Services and ServiceEntry hosts, filtered by `exportTo`.

Istio's analyzers key hosts by the scope they are exported to (`*` or a namespace; `.` is the owner's
namespace) and look a destination up from the referring resource's namespace
(istio/istio pkg/config/analysis/analyzers/util/service_lookup.go). A Service exports through the
`networking.istio.io/exportTo` annotation, a ServiceEntry and DestinationRule through `spec.exportTo`.
https://istio.io/latest/docs/reference/config/networking/service-entry/#ServiceEntry-export_to
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pilot.model.resource import Resource
from pilot.model.scope import host_matches, resolve_host
from pilot.model.snapshot import MeshSnapshot

EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo"


def export_scopes(export_to: Iterable[Any], owner_ns: str) -> frozenset[str]:
    """`*` (everyone) or the namespaces an `exportTo` list names; absent or empty means everyone."""
    scopes = {owner_ns if str(e) == "." else str(e) for e in export_to or []}
    return frozenset({"*"}) if not scopes or "*" in scopes else frozenset(scopes)


def visible_from(scopes: frozenset[str], namespace: str) -> bool:
    return "*" in scopes or namespace in scopes


def _spec_export(res: Resource) -> Iterable[Any]:
    export = res.spec.get("exportTo") if isinstance(res.spec, Mapping) else None
    return export if isinstance(export, list) else []


def service_scopes(svc: Resource) -> frozenset[str]:
    raw = svc.annotations.get(EXPORT_TO_ANNOTATION, "")
    return export_scopes([e.strip() for e in raw.split(",") if e.strip()], svc.namespace)


def resource_scopes(res: Resource) -> frozenset[str]:
    return export_scopes(_spec_export(res), res.namespace)


def visible_hosts(snapshot: MeshSnapshot, namespace: str) -> frozenset[str]:
    """Hosts a resource in `namespace` may route to: Services and ServiceEntry hosts exported to it
    (computed once per namespace and snapshot)."""
    key = ("analysis.visible_hosts", namespace)
    cached = snapshot.memo.get(key)
    if isinstance(cached, frozenset):
        return cached
    suffix = snapshot.mesh.domain_suffix
    hosts = {f"{s.name}.{s.namespace}.{suffix}" for s in snapshot.of_kind("Service")
             if visible_from(service_scopes(s), namespace)}
    for se in snapshot.of_kind("ServiceEntry"):
        if visible_from(resource_scopes(se), namespace):
            hosts |= {resolve_host(str(h), se.namespace, suffix) for h in _list(se.spec.get("hosts"))}
    result = frozenset(hosts)
    snapshot.memo[key] = result
    return result


def host_known(snapshot: MeshSnapshot, host: str, namespace: str | None = None) -> bool:
    """Whether `host` is a Service or ServiceEntry host, visible from `namespace` when given."""
    if namespace is None:
        return host in snapshot.services or any(
            host_matches(h, host) for se in snapshot.of_kind("ServiceEntry") for h in _strs(se.spec.get("hosts")))
    visible = visible_hosts(snapshot, namespace)
    return host in visible or any(h.startswith("*") and host_matches(h, host) for h in visible)


def _rules_by_host(snapshot: MeshSnapshot) -> tuple[dict[str, list[Resource]], list[tuple[str, Resource]]]:
    """DestinationRules by resolved exact host, and the wildcard ones (built once per snapshot)."""
    key = "analysis.destination_rules_by_host"
    cached = snapshot.memo.get(key)
    if isinstance(cached, tuple):
        return cached
    exact: dict[str, list[Resource]] = {}
    wildcard: list[tuple[str, Resource]] = []
    for dr in snapshot.of_kind("DestinationRule"):
        host = resolve_host(str(dr.spec.get("host", "")), dr.namespace, snapshot.mesh.domain_suffix)
        if "*" in host:
            wildcard.append((host, dr))
        else:
            exact.setdefault(host, []).append(dr)
    snapshot.memo[key] = (exact, wildcard)
    return exact, wildcard


def destination_rules_for_host(snapshot: MeshSnapshot, host: str, namespace: str | None = None) -> list[Resource]:
    """DestinationRules for `host`, only those exported to `namespace` when given."""
    exact, wildcard = _rules_by_host(snapshot)
    rules = exact.get(host, []) + [dr for pattern, dr in wildcard if host_matches(pattern, host)]
    return [dr for dr in rules if namespace is None or visible_from(resource_scopes(dr), namespace)]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strs(value: Any) -> list[str]:
    return [str(v) for v in _list(value)]
