"""MeshSnapshot: the immutable, indexed view of all valid config that translation reads.

Built once per debounced change (`build_snapshot`) and never mutated. Its `version` is a content hash
of the resources it was built from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.registry import (
    Endpoint,
    Service,
    Workload,
    service_endpoints,
    service_from_resource,
    workload_from_pod,
)
from pilot.model.resource import ConfigKey, Resource
from pilot.model.serviceentry import registry_from_entries
from pilot.model.workload_index import WorkloadIndex


@dataclass(frozen=True, eq=False)
class MeshSnapshot:
    resources: tuple[Resource, ...]
    mesh: MeshConfig = field(default_factory=MeshConfig)
    services: Mapping[str, Service] = field(default_factory=dict)
    workloads: tuple[Workload, ...] = ()
    # (hostname, port) -> endpoints of that service port
    endpoints: Mapping[tuple[str, int], tuple[Endpoint, ...]] = field(default_factory=dict)
    version: str = ""
    built_index: WorkloadIndex | None = field(default=None, repr=False)

    # ---- lookups -------------------------------------------------------------------------------
    @cached_property
    def by_kind(self) -> dict[str, tuple[Resource, ...]]:
        out: dict[str, list[Resource]] = {}
        for r in self.resources:
            out.setdefault(r.kind, []).append(r)
        return {k: tuple(sorted(v, key=_precedence)) for k, v in out.items()}

    def of_kind(self, kind: str) -> tuple[Resource, ...]:
        return self.by_kind.get(kind, ())

    @cached_property
    def by_key(self) -> dict[ConfigKey, Resource]:
        return {r.key: r for r in self.resources}

    @cached_property
    def workload_index(self) -> WorkloadIndex:
        """Workloads by namespace and label (selectors cost their candidates, not a scan)."""
        return self.built_index if self.built_index is not None else WorkloadIndex(self.workloads)

    @cached_property
    def _workloads_by_ip(self) -> dict[tuple[str, str], Workload]:
        return {(w.namespace, w.ip): w for w in self.workloads}

    def workload(self, namespace: str, ip: str) -> Workload | None:
        return self._workloads_by_ip.get((namespace, ip))

    def service_endpoints(self, hostname: str, port: int) -> tuple[Endpoint, ...]:
        return self.endpoints.get((hostname, port), ())

    def proxy_view(self, node: NodeId) -> ProxyView:
        """The registry's view of a proxy: labels and service account from the Pod with its IP."""
        w = self.workload(node.namespace, node.ip)
        if w is None:
            return ProxyView(type=node.type, ip=node.ip, name=node.pod, namespace=node.namespace,
                             known=False)
        return ProxyView(type=node.type, ip=w.ip, name=w.name, namespace=w.namespace,
                         labels=tuple(sorted(w.labels.items())), service_account=w.service_account)

    @cached_property
    def memo(self) -> dict[object, Any]:
        """Results derived from this snapshot that many proxies share (translation keys them by the part
        of a proxy's view they depend on). Dropped with the snapshot, so never stale."""
        return {}

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        from pilot.model.graph import build_graph

        return build_graph(self)


def _precedence(r: Resource) -> tuple[str, str, str]:
    # Istio resolves conflicts by the oldest creationTimestamp, then namespace/name.
    return (r.creation_timestamp or "~", r.namespace, r.name)


def content_hash(resources: Iterable[Resource], mesh: MeshConfig) -> str:
    """Order-independent: the sum of the resources' own digests (mod 2^128) with the mesh config."""
    total = sum(r.content_digest for r in resources) % (1 << 128)
    h = hashlib.sha256(repr(mesh).encode())
    h.update(total.to_bytes(16, "big"))
    return h.hexdigest()[:16]


def build_snapshot(resources: Iterable[Resource], mesh: MeshConfig | None = None,
                   extra_services: Iterable[tuple[Service, Mapping[int, tuple[Endpoint, ...]]]] = ()
                   ) -> MeshSnapshot:
    """Index valid resources into a snapshot. `extra_services` lets later layers add ServiceEntries."""
    mesh = mesh or MeshConfig()
    resources = tuple(resources)
    by_kind: dict[str, list[Resource]] = {}
    for r in resources:
        by_kind.setdefault(r.kind, []).append(r)
    pods = tuple(w for w in (workload_from_pod(p) for p in by_kind.get("Pod", [])) if w)
    # WorkloadEntries are workloads too: Services and ServiceEntries select them like Pods.
    entry_workloads, entry_services = registry_from_entries(by_kind, pods, mesh.domain_suffix)
    workloads = pods + entry_workloads
    index = WorkloadIndex(workloads)
    by_ip: dict[str, dict[str, Workload]] = {}
    for w in workloads:
        by_ip.setdefault(w.namespace, {})[w.ip] = w  # the last workload with an IP wins, as before
    slices: dict[tuple[str, str], list[Resource]] = {}
    for sl in by_kind.get("EndpointSlice", []):
        slices.setdefault((sl.namespace, sl.labels.get("kubernetes.io/service-name", "")), []).append(sl)
    services: dict[str, Service] = {}
    endpoints: dict[tuple[str, int], tuple[Endpoint, ...]] = {}
    for sres in sorted(by_kind.get("Service", []), key=_precedence):
        svc = service_from_resource(sres, mesh.domain_suffix)
        if svc.hostname in services:
            continue
        services[svc.hostname] = svc
        ns_ips = by_ip.get(svc.namespace, {})
        selected = [w for w in index.select(svc.namespace, svc.selector) if ns_ips.get(w.ip) is w] \
            if svc.selector else []
        for port, eps in service_endpoints(svc, ns_ips, slices.get((svc.namespace, svc.name), []),
                                           selected).items():
            endpoints[(svc.hostname, port)] = eps
    for svc, eps_by_port in [*entry_services, *extra_services]:
        if svc.hostname in services:
            continue
        services[svc.hostname] = svc
        for port, eps in eps_by_port.items():
            endpoints[(svc.hostname, port)] = eps
    return MeshSnapshot(resources=resources, mesh=mesh, services=services, workloads=workloads,
                        endpoints=endpoints, version=content_hash(resources, mesh), built_index=index)


def spec_get(spec: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    cur: Any = spec
    for p in path:
        if not isinstance(cur, Mapping) or p not in cur:
            return default
        cur = cur[p]
    return cur
