"""The service registry of a snapshot (workloads, Services, their endpoints), built per namespace.

Kubernetes Services select pods and EndpointSlices of their own namespace only, so each namespace's part
depends only on that namespace's Pods, Services, EndpointSlices and WorkloadEntries. A part is keyed by
the sum of those resources' digests: a new snapshot reuses every part whose inputs did not change, so one
pod edit in a 20,000-pod mesh rebuilds one namespace, not the mesh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from pilot.model.registry import (
    Endpoint,
    Service,
    Workload,
    service_endpoints,
    service_from_resource,
    workload_from_pod,
)
from pilot.model.resource import Resource
from pilot.model.serviceentry import workload_from_entry
from pilot.model.workload_index import CombinedIndex, WorkloadIndex

REGISTRY_KINDS = ("Pod", "Service", "EndpointSlice", "WorkloadEntry")
EndpointMap = dict[tuple[str, int], tuple[Endpoint, ...]]


def precedence(r: Resource) -> tuple[str, str, str]:
    # Istio resolves conflicts by the oldest creationTimestamp, then namespace/name.
    return r.precedence


@dataclass(frozen=True, eq=False)
class NamespaceRegistry:
    fingerprint: int
    pods: tuple[Workload, ...]
    entries: tuple[Workload, ...]  # WorkloadEntries
    index: WorkloadIndex
    services: tuple[tuple[tuple[str, str, str], Service], ...]  # (precedence, service)
    endpoints: EndpointMap


@dataclass(frozen=True, eq=False)
class Registry:
    parts: Mapping[str, NamespaceRegistry]
    domain_suffix: str

    @cached_property
    def workloads(self) -> tuple[Workload, ...]:
        """Pods of every namespace (in namespace order), then WorkloadEntries."""
        spaces = sorted(self.parts)
        return (*(w for ns in spaces for w in self.parts[ns].pods),
                *(w for ns in spaces for w in self.parts[ns].entries))

    def services(self) -> list[Service]:
        """Kubernetes Services, oldest first."""
        found = [item for part in self.parts.values() for item in part.services]
        return [svc for _, svc in sorted(found, key=lambda t: t[0])]

    def index(self) -> CombinedIndex:
        return CombinedIndex({ns: p.index for ns, p in self.parts.items()}, self.workloads)

    def endpoints(self) -> EndpointMap:
        out: EndpointMap = {}
        for part in self.parts.values():
            out.update(part.endpoints)
        return out


def build_registry(by_kind: Mapping[str, list[Resource]], domain_suffix: str,
                   previous: Registry | None = None) -> Registry:
    grouped: dict[str, dict[str, list[Resource]]] = {}
    fingerprints: dict[str, int] = {}
    for kind in REGISTRY_KINDS:
        for r in by_kind.get(kind, ()):
            grouped.setdefault(r.namespace, {}).setdefault(kind, []).append(r)
            fingerprints[r.namespace] = fingerprints.get(r.namespace, 0) + r.content_digest
    reusable = previous.parts if previous is not None and previous.domain_suffix == domain_suffix else {}
    parts = {}
    for ns, fp in fingerprints.items():
        old = reusable.get(ns)
        parts[ns] = old if old is not None and old.fingerprint == fp else \
            _build_namespace(fp, grouped[ns], domain_suffix)
    return Registry(parts, domain_suffix)


def _build_namespace(fingerprint: int, resources: Mapping[str, list[Resource]],
                     domain_suffix: str) -> NamespaceRegistry:
    pods = tuple(w for w in (workload_from_pod(p) for p in resources.get("Pod", ())) if w)
    entries = tuple(w for w in (workload_from_entry(e) for e in resources.get("WorkloadEntry", ())) if w)
    workloads = pods + entries
    index = WorkloadIndex(workloads)
    by_ip = {w.ip: w for w in workloads}  # the last workload with an IP wins
    slices: dict[str, list[Resource]] = {}
    for sl in resources.get("EndpointSlice", ()):
        slices.setdefault(sl.labels.get("kubernetes.io/service-name", ""), []).append(sl)
    services = []
    endpoints: EndpointMap = {}
    for sres in sorted(resources.get("Service", ()), key=precedence):
        svc = service_from_resource(sres, domain_suffix)
        services.append((precedence(sres), svc))
        selected = _selected(index, by_ip, svc) if svc.selector else []
        for port, eps in service_endpoints(svc, by_ip, slices.get(svc.name, []), selected).items():
            endpoints[(svc.hostname, port)] = eps
    return NamespaceRegistry(fingerprint, pods, entries, index, tuple(services), endpoints)


def _selected(index: WorkloadIndex, by_ip: Mapping[str, Workload], svc: Service) -> Iterable[Workload]:
    return [w for w in index.select(svc.namespace, svc.selector) if by_ip.get(w.ip) is w]
