"""Which hosts exist: Kubernetes Services in the snapshot and ServiceEntry hosts."""

from __future__ import annotations

from pilot.model.resource import Resource
from pilot.model.scope import host_matches, resolve_host
from pilot.model.snapshot import MeshSnapshot


def service_entry_hosts(snapshot: MeshSnapshot) -> list[str]:
    return [str(h) for se in snapshot.of_kind("ServiceEntry") for h in se.spec.get("hosts") or []]


def host_known(snapshot: MeshSnapshot, host: str) -> bool:
    if host in snapshot.services:
        return True
    return any(host_matches(se_host, host) for se_host in service_entry_hosts(snapshot))


def destination_rules_for_host(snapshot: MeshSnapshot, host: str) -> list[Resource]:
    suffix = snapshot.mesh.domain_suffix
    return [dr for dr in snapshot.of_kind("DestinationRule")
            if host_matches(resolve_host(str(dr.spec.get("host", "")), dr.namespace, suffix), host)]
