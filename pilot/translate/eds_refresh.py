"""EDS after an endpoint-only change: a proxy's ClusterLoadAssignments with those of the changed hosts
rebuilt, everything else taken over as it was (istiod's incremental EDS push).

The push plan (pilot/push_scope.py) decides when a change can only alter EDS; here the new maps are made,
once per distinct previous map, so every proxy of a scope shares the result as it shared the original.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.any_pb2 import Any as AnyPb

from pilot.model.proxy import ProxyView
from pilot.model.scope import sidecar_for, visible_services
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.endpoints import build_endpoints_for
from pilot.translate.names import parse_outbound_cluster
from pilot.translate.outbound_security import label_meshed_endpoints
from pilot.translate.shared import shared


def refreshed_endpoints(snapshot: MeshSnapshot, view: ProxyView, previous: Mapping[str, AnyPb],
                        hosts: frozenset[str]) -> dict[str, AnyPb]:
    """`previous` (the proxy's EDS map from the last snapshot) with the assignments of `hosts` rebuilt
    from `snapshot`."""

    def build() -> tuple[Mapping[str, AnyPb], dict[str, AnyPb]]:  # (previous, its refreshed form)
        services = [s for s in visible_services(snapshot, view, sidecar_for(snapshot, view)) if s.hostname in hosts]
        fresh = build_endpoints_for(snapshot, view, services)
        if snapshot.mesh.workload_mtls:
            fresh = {name: label_meshed_endpoints(snapshot, name, res) for name, res in fresh.items()}
        kept = {name: res for name, res in previous.items() if _host(name) not in hosts}
        return previous, {**kept, **fresh}

    held, result = shared(snapshot, ("eds-refresh", id(previous), hosts), build)
    return result if held is previous else build()[1]


def _host(cluster_name: str) -> str:
    parsed = parse_outbound_cluster(cluster_name)
    return parsed[2] if parsed else ""
