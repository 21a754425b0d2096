"""Which proxies a config change touches, and how much of their config it can change.

- Policies that attach to workloads through a selector (Sidecar, AuthorizationPolicy, ...) change only
  the workloads they select, old or new: the mesh graph's `applies` edges say which.
- Routing config (VirtualService, DestinationRule, ServiceEntry, Service) changes the proxies whose scope
  sees one of its hosts, in the old or the new snapshot (a Sidecar's egress hosts bound the scope, as
  Istio's SidecarScope does), plus every gateway.
- Endpoints (Pod, EndpointSlice) change the proxies that see a service whose endpoints changed; when that
  service's cluster-level facts (its definition, the identities behind it, the mTLS mode auto-mTLS infers
  from its endpoints) stayed the same, only EDS can change: such proxies get new ClusterLoadAssignments
  for those hosts and nothing is re-translated (istiod's incremental EDS push). The pod's own proxy is
  always re-translated.
- Anything else (PeerAuthentication, which steers clients' auto-mTLS; Secrets; Namespaces) reaches every
  proxy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pilot.model.authn import service_identities, workload_mtls_mode
from pilot.model.graph import affected_workloads, wl_node
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.registry import Endpoint
from pilot.model.resource import ConfigKey, Resource
from pilot.model.revisions import REVISION_MODE_KIND
from pilot.model.scope import (
    egress_hosts,
    host_matches,
    imports,
    resolve_host,
    sidecar_for,
    virtual_service_hosts,
    visible_services,
)
from pilot.model.scope_index import memoised
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.shared import labels_matter

SELECTOR_SCOPED_KINDS = frozenset({"Sidecar", "AuthorizationPolicy", "RequestAuthentication", "EnvoyFilter",
                                   "RateLimitPolicy", "Telemetry"})
HOST_KINDS = frozenset({"VirtualService", "DestinationRule", "ServiceEntry", "Service"})
# A revision's endpoint mode (SERVE/PROXY, model/revisions.py) changes its endpoints like a Pod does.
ENDPOINT_KINDS = frozenset({"Pod", "EndpointSlice", REVISION_MODE_KIND})
GATEWAY_KINDS = frozenset({"Gateway"})


@dataclass
class PushPlan:
    """`full`: node ids to translate again (None: every proxy). `endpoints_only`: node id -> hosts whose
    ClusterLoadAssignments to rebuild, the rest of the node's config staying as it is."""

    full: set[str] | None = field(default_factory=set)
    endpoints_only: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def everyone(self) -> bool:
        return self.full is None

    def reaches(self, node_id: str) -> bool:
        return self.full is None or node_id in self.full or node_id in self.endpoints_only


def plan_push(old: MeshSnapshot | None, new: MeshSnapshot, keys: Iterable[object],
              nodes: Mapping[str, NodeId]) -> PushPlan:
    given = list(keys)
    changed = [k for k in given if isinstance(k, ConfigKey)]
    if old is None or not changed or len(changed) != len(given):
        return PushPlan(full=None)
    handled = SELECTOR_SCOPED_KINDS | HOST_KINDS | ENDPOINT_KINDS | GATEWAY_KINDS
    if any(k.kind not in handled for k in changed) or labels_matter(old) != labels_matter(new):
        return PushPlan(full=None)
    plan = PushPlan()
    assert plan.full is not None
    selector_keys = [k for k in changed if k.kind in SELECTOR_SCOPED_KINDS]
    if selector_keys:
        workloads = affected_workloads(new.graph, selector_keys) | affected_workloads(old.graph, selector_keys)
        plan.full |= {n for n, node in nodes.items() if wl_node(node.namespace, new.proxy_view(node).name) in workloads}
    routed = [k for k in changed if k.kind in HOST_KINDS]
    gateways_touched = bool(routed) or any(k.kind in GATEWAY_KINDS for k in changed)
    hosts = {h for k in routed for snap in (old, new) for h in _hosts_of(snap, k)}
    vs_hosts = {(h, k.namespace) for k in routed if k.kind == "VirtualService"
                for snap in (old, new) for h in _hosts_of(snap, k)}
    own_pods = {(k.namespace, k.name) for k in changed if k.kind == "Pod"}
    own_pods |= {(w.namespace, w.workload) for k in routed if k.kind == "Service" for snap in (old, new)
                 for w in _members(snap, k)}
    endpoint_keys = [k for k in changed if k.kind in ENDPOINT_KINDS]
    eds_hosts, cds_hosts = _endpoint_changes(old, new, endpoint_keys) if endpoint_keys else (set(), set())
    hosts |= cds_hosts
    own_ips = {(ns, ip) for ns, name in own_pods for snap in (old, new) for ip in _pod_ips(snap, ns, name)}
    for node_id, node in nodes.items():
        if (node.namespace, node.pod) in own_pods or (node.namespace, node.ip) in own_ips:
            plan.full.add(node_id)
            continue
        views = [(snap, snap.proxy_view(node)) for snap in (old, new)]
        gateway = gateways_touched and node.type == "router"
        if gateway or (hosts and any(_sees(snap, view, hosts, vs_hosts) for snap, view in views)):
            plan.full.add(node_id)
        elif eds_hosts:
            seen = frozenset(h for h in eds_hosts if h in _visible_hostnames(new, views[1][1]))
            if seen:
                plan.endpoints_only[node_id] = seen
    for node_id in plan.full:
        plan.endpoints_only.pop(node_id, None)
    return plan


def _sees(snap: MeshSnapshot, view: ProxyView, hosts: set[str], vs_hosts: set[tuple[str, str]]) -> bool:
    """Whether the proxy's scope holds any of `hosts` (patterns), or imports a VirtualService-only host."""
    visible = _visible_hostnames(snap, view)
    if any(h in visible for h in hosts):
        return True
    wildcards = [h for h in hosts if h.startswith("*")]
    if wildcards and any(host_matches(p, v) for p in wildcards for v in visible):
        return True
    if vs_hosts and not view.is_gateway:
        egress = egress_hosts(sidecar_for(snap, view))
        return any(imports(egress, view.namespace, ns, h) for h, ns in vs_hosts)
    return False


def _visible_hostnames(snap: MeshSnapshot, view: ProxyView) -> frozenset[str]:
    sidecar = sidecar_for(snap, view)
    return memoised(snap, ("visible-hostnames", view.type, view.namespace, egress_hosts(sidecar)),
                    lambda: frozenset(s.hostname for s in visible_services(snap, view, sidecar)))


def _hosts_of(snap: MeshSnapshot, key: ConfigKey) -> list[str]:
    res = snap.lookup(key)
    if res is None:
        return []
    suffix = snap.mesh.domain_suffix
    if key.kind == "Service":
        return [f"{res.name}.{res.namespace}.{suffix}"]
    if key.kind == "DestinationRule":
        return [resolve_host(str(res.spec.get("host", "")), res.namespace, suffix)]
    if key.kind == "ServiceEntry":
        return [resolve_host(str(h), res.namespace, suffix) for h in res.spec.get("hosts") or []]
    # A delegate VirtualService has no hosts of its own: it routes for the roots that delegate to it.
    return [*virtual_service_hosts(res, suffix), *(h for root in _delegating_roots(snap, res)
                                                   for h in virtual_service_hosts(root, suffix))]


def _delegating_roots(snap: MeshSnapshot, delegate: Resource) -> list[Resource]:
    out = []
    for vs in snap.of_kind("VirtualService"):
        for http in vs.spec.get("http") or []:
            ref = http.get("delegate") if isinstance(http, Mapping) else None
            if isinstance(ref, Mapping) and ref.get("name") == delegate.name \
                    and (ref.get("namespace") or vs.namespace) == delegate.namespace:
                out.append(vs)
                break
    return out


def _members(snap: MeshSnapshot, key: ConfigKey) -> list[Endpoint]:
    host = f"{key.name}.{key.namespace}.{snap.mesh.domain_suffix}"
    svc = snap.services.get(host)
    return [ep for sp in (svc.ports if svc else ()) for ep in snap.service_endpoints(host, sp.port)]


def _pod_ips(snap: MeshSnapshot, namespace: str, name: str) -> list[str]:
    if snap.registry is not None:  # the namespace's pods, not an index of every Pod in the mesh
        part = snap.registry.parts.get(namespace)
        return [w.ip for w in (part.pods if part else ()) if w.name == name and w.ip]
    pod = snap.lookup(ConfigKey("Pod", namespace, name))
    ip = str((pod.status or {}).get("podIP") or "") if pod is not None else ""
    return [ip] if ip else []


def _endpoint_changes(old: MeshSnapshot, new: MeshSnapshot, keys: list[ConfigKey]) -> tuple[set[str], set[str]]:
    """Hosts whose endpoints changed, split into those where only EDS can differ and those whose
    cluster-level facts changed too."""
    spaces = {k.namespace for k in keys}
    eds_only: set[str] = set()
    cluster_level: set[str] = set()
    for host in {h for snap in (old, new) for h, svc in snap.services.items() if svc.namespace in spaces}:
        before, after = old.services.get(host), new.services.get(host)
        ports = {sp.port for svc in (before, after) if svc for sp in svc.ports}
        if all(_endpoint_facts(old.service_endpoints(host, p)) == _endpoint_facts(new.service_endpoints(host, p))
               for p in ports):
            continue
        if before is None or before != after or before.resolution in ("DNS", "NONE") \
                or any(_cluster_facts(old, host, p) != _cluster_facts(new, host, p) for p in ports):
            cluster_level.add(host)
        else:
            eds_only.add(host)
    return eds_only, cluster_level


def _endpoint_facts(eps: tuple[Endpoint, ...]) -> list[tuple[object, ...]]:
    # Endpoint equality leaves labels out; subsets and auto-mTLS read them.
    return [(e.address, e.port, tuple(sorted(e.labels.items())), e.service_account, e.namespace, e.workload,
             e.ready) for e in eps]


def _cluster_facts(snap: MeshSnapshot, host: str, port: int) -> tuple[object, ...]:
    """What an outbound cluster reads from a service's endpoints: the SANs it checks, and (with the mesh
    CA) the mTLS mode auto-mTLS infers from them."""
    mode = workload_mtls_mode(snap, host, port) if snap.mesh.workload_mtls else ""
    return (tuple(service_identities(snap, host, port)), mode)
