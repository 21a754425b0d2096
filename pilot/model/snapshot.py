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
from pilot.model.registry import Endpoint, Service, Workload
from pilot.model.registry_build import Registry, build_registry, precedence
from pilot.model.resource import ConfigKey, Resource
from pilot.model.serviceentry import registry_from_entries
from pilot.model.workload_index import CombinedIndex, WorkloadIndex


@dataclass(frozen=True, eq=False)
class MeshSnapshot:
    resources: tuple[Resource, ...]
    mesh: MeshConfig = field(default_factory=MeshConfig)
    services: Mapping[str, Service] = field(default_factory=dict)
    workloads: tuple[Workload, ...] = ()
    # (hostname, port) -> endpoints of that service port
    endpoints: Mapping[tuple[str, int], tuple[Endpoint, ...]] = field(default_factory=dict)
    version: str = ""
    registry: Registry | None = field(default=None, repr=False)

    # ---- lookups -------------------------------------------------------------------------------
    @cached_property
    def by_kind(self) -> dict[str, tuple[Resource, ...]]:
        out: dict[str, list[Resource]] = {}
        for r in self.resources:
            out.setdefault(r.kind, []).append(r)
        return {k: tuple(sorted(v, key=precedence)) for k, v in out.items()}

    def of_kind(self, kind: str) -> tuple[Resource, ...]:
        return self.by_kind.get(kind, ())

    @cached_property
    def by_key(self) -> dict[ConfigKey, Resource]:
        return {r.key: r for r in self.resources}

    def lookup(self, key: ConfigKey) -> Resource | None:
        """One resource by key, indexing only its kind (a change to one VirtualService should not
        index 20,000 Pods)."""
        index = self._keys_by_kind.get(key.kind)
        if index is None:
            index = self._keys_by_kind[key.kind] = {r.key: r for r in self.of_kind(key.kind)}
        return index.get(key)

    @cached_property
    def _keys_by_kind(self) -> dict[str, dict[ConfigKey, Resource]]:
        return {}

    @cached_property
    def workload_index(self) -> WorkloadIndex | CombinedIndex:
        """Workloads by namespace and label (selectors cost their candidates, not a scan)."""
        return self.registry.index() if self.registry is not None else WorkloadIndex(self.workloads)

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
                             known=False, interception=node.interception)
        return ProxyView(type=node.type, ip=w.ip, name=w.name, namespace=w.namespace,
                         labels=tuple(sorted(w.labels.items())), service_account=w.service_account,
                         interception=node.interception)

    @cached_property
    def memo(self) -> dict[object, Any]:
        """Results derived from this snapshot that many proxies share (translation keys them by the part
        of a proxy's view they depend on). Dropped with the snapshot, so never stale."""
        return {}

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        from pilot.model.graph import build_graph

        return build_graph(self)


def content_hash(resources: Iterable[Resource], mesh: MeshConfig) -> str:
    """Order-independent: the sum of the resources' own digests (mod 2^128) with the mesh config."""
    total = sum(r.content_digest for r in resources) % (1 << 128)
    h = hashlib.sha256(repr(mesh).encode())
    if mesh.telemetry.configured:
        h.update(repr(mesh.telemetry).encode())
    if mesh.capture_ports != (15001, 15006):
        h.update(repr(mesh.capture_ports).encode())
    h.update(total.to_bytes(16, "big"))
    return h.hexdigest()[:16]


def build_snapshot(resources: Iterable[Resource], mesh: MeshConfig | None = None,
                   extra_services: Iterable[tuple[Service, Mapping[int, tuple[Endpoint, ...]]]] = (),
                   previous: MeshSnapshot | None = None) -> MeshSnapshot:
    """Index valid resources into a snapshot. `extra_services` lets later layers add ServiceEntries.

    With `previous`, the registry of every namespace whose Pods, Services, EndpointSlices and
    WorkloadEntries did not change is taken over from it (see registry_build.py)."""
    mesh = mesh or MeshConfig()
    resources = tuple(resources)
    by_kind: dict[str, list[Resource]] = {}
    for r in resources:
        by_kind.setdefault(r.kind, []).append(r)
    registry = build_registry(by_kind, mesh.domain_suffix, previous.registry if previous else None)
    # WorkloadEntries are workloads too: Services and ServiceEntries select them like Pods.
    pods = [w for part in registry.parts.values() for w in part.pods]
    _entry_workloads, entry_services = registry_from_entries(by_kind, pods, mesh.domain_suffix)
    services: dict[str, Service] = {}
    for svc in registry.services():
        services.setdefault(svc.hostname, svc)
    endpoints = registry.endpoints()
    for svc, eps_by_port in [*entry_services, *extra_services]:
        if svc.hostname in services:
            continue
        services[svc.hostname] = svc
        for port, eps in eps_by_port.items():
            endpoints[(svc.hostname, port)] = eps
    snap = MeshSnapshot(resources=resources, mesh=mesh, services=services, workloads=registry.workloads,
                        endpoints=endpoints, version=content_hash(resources, mesh), registry=registry)
    # Sorted per kind now, before any proxy asks (first connections would pay for it otherwise), reusing
    # the previous snapshot's order for every kind whose members are the very same objects.
    before = previous.__dict__.get("by_kind") if previous is not None else None
    snap.__dict__["by_kind"] = {kind: _sorted_like(members, (before or {}).get(kind))
                                for kind, members in by_kind.items()}
    return snap


def _sorted_like(members: list[Resource], previous: tuple[Resource, ...] | None) -> tuple[Resource, ...]:
    if previous is not None and len(previous) == len(members) and {id(r) for r in previous} == {
            id(r) for r in members}:
        return previous
    return tuple(sorted(members, key=precedence))


def spec_get(spec: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    cur: Any = spec
    for p in path:
        if not isinstance(cur, Mapping) or p not in cur:
            return default
        cur = cur[p]
    return cur
