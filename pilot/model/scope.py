"""Which config applies to a proxy: its Sidecar, the services it can see, VirtualServices and
DestinationRules for a host. Pure lookups over a snapshot, following Istio's precedence rules.

- Sidecar: https://istio.io/latest/docs/reference/config/networking/sidecar/ (selector Sidecar in the
  workload's namespace, then the namespace-wide one, then the root namespace's).
- DestinationRule lookup: proxy namespace, then the service's namespace, then the root namespace.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from pilot.model.proxy import ProxyView
from pilot.model.registry import Service
from pilot.model.resource import Resource
from pilot.model.scope_index import DestinationRuleIndex, SidecarIndex, memoised
from pilot.model.snapshot import MeshSnapshot


def resolve_host(host: str, namespace: str, domain_suffix: str = "svc.cluster.local") -> str:
    """Istio resolves a short name (no dot) relative to the namespace of the resource naming it."""
    if "*" in host or "." in host:
        return host
    return f"{host}.{namespace}.{domain_suffix}"


def host_matches(pattern: str, host: str) -> bool:
    """Istio host matching: exact, or a `*.suffix` wildcard, or `*`."""
    if pattern == "*" or pattern == host:
        return True
    return pattern.startswith("*") and host.endswith(pattern[1:])


def selects(resource: Resource, view: ProxyView, field: str = "workloadSelector") -> bool:
    selector = resource.spec.get(field) or {}
    labels = selector.get("labels") if field == "workloadSelector" else selector.get("matchLabels")
    return view.matches(labels or {})


def sidecar_for(snapshot: MeshSnapshot, view: ProxyView) -> Resource | None:
    if view.is_gateway:
        return None  # routers never take a Sidecar: they see every exported service
    index = memoised(snapshot, ("sidecar-index",), lambda: SidecarIndex(snapshot))
    own = index.selecting(view.namespace, view.label_map)
    if own is not None:
        return own
    return index.namespace_wide.get(view.namespace) or index.namespace_wide.get(snapshot.mesh.root_namespace)


def exported_to(spec: Mapping[str, Any], owner_ns: str, viewer_ns: str) -> bool:
    """`exportTo`: `*` everyone, `.` the owner's namespace, or namespace names; absent means `*`."""
    export = spec.get("exportTo") or ["*"]
    return any(e == "*" or (e == "." and owner_ns == viewer_ns) or e == viewer_ns for e in export)


_exported_to = exported_to


def egress_hosts(sidecar: Resource | None) -> tuple[str, ...]:
    if sidecar is None:
        return ("*/*",)
    hosts: list[str] = []
    for eg in sidecar.spec.get("egress") or []:
        hosts.extend(str(h) for h in eg.get("hosts") or [])
    return tuple(hosts) or ("*/*",)


def imports(hosts: Iterable[str], proxy_ns: str, target_ns: str, hostname: str) -> bool:
    """Sidecar egress `hosts` entries are `namespace/dnsName` (`.` = own ns, `*` = any, `~` = none)."""
    for entry in hosts:
        ns, _, dns = entry.partition("/")
        if not dns:
            ns, dns = "*", entry
        if ns == "~":
            continue
        if ns not in ("*", target_ns) and not (ns == "." and target_ns == proxy_ns):
            continue
        if fnmatch.fnmatchcase(hostname, dns) or host_matches(dns, hostname):
            return True
    return False


def visible_services(snapshot: MeshSnapshot, view: ProxyView,
                     sidecar: Resource | None = None) -> list[Service]:
    hosts = egress_hosts(sidecar if sidecar is not None else sidecar_for(snapshot, view))
    return list(memoised(snapshot, ("visible-services", view.namespace, hosts),
                         lambda: _visible_services(snapshot, view.namespace, hosts)))


def _visible_services(snapshot: MeshSnapshot, namespace: str, hosts: tuple[str, ...]) -> tuple[Service, ...]:
    """Computed once per snapshot, namespace and Sidecar egress hosts, shared by every proxy with them."""
    return tuple(s for s in _services_by_hostname(snapshot)
                 if _exported_to({"exportTo": list(s.export_to)}, s.namespace, namespace)
                 and imports(hosts, namespace, s.namespace, s.hostname))


def _services_by_hostname(snapshot: MeshSnapshot) -> list[Service]:
    return memoised(snapshot, ("services-by-hostname",),
                    lambda: sorted(snapshot.services.values(), key=lambda s: s.hostname))


def virtual_service_hosts(vs: Resource, domain_suffix: str) -> list[str]:
    return [resolve_host(str(h), vs.namespace, domain_suffix) for h in vs.spec.get("hosts") or []]


def vs_gateways(vs: Resource) -> list[str]:
    return [str(g) for g in vs.spec.get("gateways") or ["mesh"]]


class _HostIndex:
    """VirtualServices by resolved host (exact) and the wildcard ones, each list oldest first, so a
    lookup costs the candidates for one host instead of a scan of every VirtualService."""

    def __init__(self, snapshot: MeshSnapshot) -> None:
        self.exact: dict[str, list[Resource]] = {}
        self.wildcard: list[tuple[str, int, Resource]] = []
        for age, vs in enumerate(snapshot.of_kind("VirtualService")):
            for h in dict.fromkeys(virtual_service_hosts(vs, snapshot.mesh.domain_suffix)):
                if h.startswith("*"):
                    self.wildcard.append((h, age, vs))
                else:
                    self.exact.setdefault(h, []).append(vs)

    def candidates(self, hostname: str) -> list[Resource]:
        """Exact matches (oldest first), then wildcards, longest first and oldest first among equals."""
        wild = sorted(((-len(h), age, vs) for h, age, vs in self.wildcard if host_matches(h, hostname)),
                      key=lambda t: (t[0], t[1]))
        return [*self.exact.get(hostname, ()), *(vs for _, _, vs in wild)]


def _host_index(snapshot: MeshSnapshot) -> _HostIndex:
    """Built once per snapshot (kept in its memo, dropped with it)."""
    index = snapshot.memo.get(("vs-host-index",))
    if index is None:
        index = snapshot.memo[("vs-host-index",)] = _HostIndex(snapshot)
    return index  # type: ignore[no-any-return]


def virtual_service_for(snapshot: MeshSnapshot, view: ProxyView, hostname: str,
                        sidecar: Resource | None = None, gateway: str = "mesh") -> Resource | None:
    """The VirtualService that routes `hostname` for this proxy: the oldest visible one naming it.

    An exact host beats a wildcard host and a longer wildcard beats a shorter one, as in Istio's host
    precedence; among equals the oldest wins (sidecars never merge VirtualServices, IST0109).
    """
    hosts: tuple[str, ...] | None = None
    for vs in _host_index(snapshot).candidates(hostname):
        if gateway not in vs_gateways(vs) and not (gateway != "mesh" and _gw_matches(vs, gateway)):
            continue
        if not _exported_to(vs.spec, vs.namespace, view.namespace):
            continue
        if gateway == "mesh":
            if hosts is None:
                hosts = egress_hosts(sidecar if sidecar is not None else sidecar_for(snapshot, view))
            if not imports(hosts, view.namespace, vs.namespace, hostname):
                continue
        return vs
    return None


def _gw_matches(vs: Resource, gateway: str) -> bool:
    for g in vs_gateways(vs):
        full = g if "/" in g else f"{vs.namespace}/{g}"
        if full == gateway:
            return True
    return False


def destination_rule_for(snapshot: MeshSnapshot, view: ProxyView, hostname: str) -> Resource | None:
    """The DestinationRule for `hostname` as seen from `view`: the proxy's namespace first, then the
    service's, then the root namespace (Istio's lookup order). Memoised per namespace and host, and per
    label set only when some rule selects workloads."""
    index = memoised(snapshot, ("dr-index",), lambda: DestinationRuleIndex(snapshot, resolve_host))
    labels = view.labels if index.any_selector else ()
    return memoised(snapshot, ("dr-for", view.namespace, labels, hostname),
                    lambda: _destination_rule_for(snapshot, index, view, hostname))


def _destination_rule_for(snapshot: MeshSnapshot, index: DestinationRuleIndex, view: ProxyView,
                          hostname: str) -> Resource | None:
    candidates = []
    for dr in index.candidates(hostname, host_matches):
        if not _exported_to(dr.spec, dr.namespace, view.namespace):
            continue
        if dr.spec.get("workloadSelector") and not selects(dr, view):
            continue
        candidates.append(dr)
    if not candidates:
        return None
    svc = snapshot.services.get(hostname)
    order = [view.namespace, svc.namespace if svc else "", snapshot.mesh.root_namespace]
    for ns in order:
        for dr in candidates:
            if dr.namespace == ns:
                return dr
    return candidates[0]


def subsets(dr: Resource | None) -> list[Mapping[str, Any]]:
    return list(dr.spec.get("subsets") or []) if dr else []


def virtual_service_only_hosts(snapshot: MeshSnapshot, view: ProxyView, services: Iterable[Service],
                               sidecar: Resource | None = None) -> list[tuple[str, Resource]]:
    """Mesh VirtualService hosts no visible service has, with the VirtualService that routes each.

    Istio gives such a host (say `alias.example.com` routed to an in-mesh service) its own virtual host
    on a sidecar's outbound routes; wildcard hosts that cover a visible service only shape that
    service's routes. `*` is never a host of the mesh gateway.
    """
    known = {s.hostname for s in services}
    hosts = egress_hosts(sidecar if sidecar is not None else sidecar_for(snapshot, view))
    out: dict[str, Resource] = {}
    for vs in snapshot.of_kind("VirtualService"):
        if "mesh" not in vs_gateways(vs) or not _exported_to(vs.spec, vs.namespace, view.namespace):
            continue
        for h in virtual_service_hosts(vs, snapshot.mesh.domain_suffix):
            if h == "*" or h in out or h in known:
                continue
            if h.startswith("*") and any(host_matches(h, k) for k in known):
                continue  # only a wildcard can cover a service under another name
            if imports(hosts, view.namespace, vs.namespace, h) \
                    and virtual_service_for(snapshot, view, h, sidecar) is vs:
                out[h] = vs
    return sorted(out.items())
