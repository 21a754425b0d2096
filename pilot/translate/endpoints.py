"""EDS: one ClusterLoadAssignment per outbound EDS cluster, endpoints filtered by subset labels.

Subsets are resolved here (as istiod does), not with Envoy's subset load balancer.
"""

from __future__ import annotations

from envoy.config.core.v3 import health_check_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from google.protobuf import any_pb2

from pilot.model.proxy import ProxyView
from pilot.model.registry import Endpoint, Service
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for, subsets
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.pb import pack, socket_address
from pilot.translate.shared import outbound_scope, shared


def load_assignment(cluster_name: str, endpoints: tuple[Endpoint, ...] | list[Endpoint]
                    ) -> endpoint_pb2.ClusterLoadAssignment:
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=cluster_name)
    if endpoints:
        loc = cla.endpoints.add()
        for ep in endpoints:
            lb = loc.lb_endpoints.add()
            lb.endpoint.address.CopyFrom(socket_address(ep.address, ep.port))
            lb.health_status = health_check_pb2.HEALTHY if ep.ready else health_check_pb2.UNHEALTHY
            lb.load_balancing_weight.value = 1
    return cla


def build_endpoints(snapshot: MeshSnapshot, view: ProxyView, services: list[Service],
                    sidecar: Resource | None = None) -> dict[str, any_pb2.Any]:
    """Shared by every proxy with the same outbound scope (see shared.py)."""
    return shared(snapshot, ("eds", *outbound_scope(snapshot, view, sidecar)),
                  lambda: build_endpoints_for(snapshot, view, services))


def build_endpoints_for(snapshot: MeshSnapshot, view: ProxyView, services: list[Service]) -> dict[str, any_pb2.Any]:
    """The assignments of these services' EDS clusters (default and subsets), not shared."""
    out: dict[str, any_pb2.Any] = {}
    for svc in services:
        if svc.resolution in ("DNS", "NONE"):
            continue  # STRICT_DNS clusters carry their own load assignment; ORIGINAL_DST needs none
        dr = destination_rule_for(snapshot, view, svc.hostname)
        for sp in svc.ports:
            eps = snapshot.service_endpoints(svc.hostname, sp.port)
            name = names.outbound_cluster(sp.port, "", svc.hostname)
            out[name] = pack(load_assignment(name, eps))
            for ss in subsets(dr):
                labels = ss.get("labels") or {}
                selected = [e for e in eps if all(e.labels.get(k) == v for k, v in labels.items())]
                name = names.outbound_cluster(sp.port, str(ss.get("name")), svc.hostname)
                out[name] = pack(load_assignment(name, selected))
    return out


