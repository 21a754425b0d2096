"""CDS: outbound EDS clusters per visible service port and subset, inbound clusters per Sidecar ingress.

Traffic policy (load balancer, connection pool, outlier detection) follows the DestinationRule with
Istio's precedence (subset portLevelSettings > subset policy > DR portLevelSettings > DR top level);
see traffic_policy.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from google.protobuf import any_pb2

from pilot.model.proxy import ProxyView
from pilot.model.registry import Service, ServicePort
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for, subsets
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.pb import ads_config_source, duration, pack, socket_address
from pilot.translate.shared import outbound_scope, shared
from pilot.translate.sidecar_ports import ingress_ports
from pilot.translate.stats_names import inbound_stat_name, name_stats, outbound_stat_name
from pilot.translate.traffic_policy import apply_traffic_policy, merged_policy

__all__ = ["build_clusters", "inbound_cluster", "merged_policy", "outbound_cluster"]


def outbound_cluster(snapshot: MeshSnapshot, svc: Service, sp: ServicePort, subset: str,
                     policy: Mapping[str, Any]) -> cluster_pb2.Cluster:
    name = names.outbound_cluster(sp.port, subset, svc.hostname)
    c = cluster_pb2.Cluster(name=name, connect_timeout=duration(snapshot.mesh.connect_timeout_s))
    if svc.resolution == "DNS":
        c.type = cluster_pb2.Cluster.STRICT_DNS
        # Istio resolves IPv4 only unless the proxy is dual-stack.
        c.dns_lookup_family = cluster_pb2.Cluster.V4_ONLY
        c.load_assignment.CopyFrom(_dns_assignment(snapshot, svc, sp, name))
    elif svc.resolution == "NONE":
        # resolution NONE: connect to wherever the caller was going (istio convertResolution).
        c.type = cluster_pb2.Cluster.ORIGINAL_DST
    else:
        c.type = cluster_pb2.Cluster.EDS
        c.eds_cluster_config.eds_config.CopyFrom(ads_config_source())
        c.eds_cluster_config.service_name = name
    apply_traffic_policy(c, policy, sp)
    if c.type == cluster_pb2.Cluster.ORIGINAL_DST:
        c.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED  # the only policy Envoy accepts here
    return c


def _dns_assignment(snapshot: MeshSnapshot, svc: Service, sp: ServicePort,
                    name: str) -> endpoint_pb2.ClusterLoadAssignment:
    eps = snapshot.service_endpoints(svc.hostname, sp.port)
    targets = [(e.address, e.port) for e in eps] or [(svc.hostname, sp.port)]
    return endpoint_pb2.ClusterLoadAssignment(cluster_name=name, endpoints=[
        endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=[
            endpoint_components_pb2.LbEndpoint(endpoint=endpoint_components_pb2.Endpoint(
                address=socket_address(a, p))) for a, p in targets])])


def inbound_cluster(view: ProxyView, port: int, endpoint: str) -> cluster_pb2.Cluster:
    host, _, ep_port = endpoint.rpartition(":")
    if host in ("0.0.0.0", ""):
        host = view.ip  # Istio: 0.0.0.0 in defaultEndpoint means "the instance IP"
    name = names.inbound_cluster(port)
    c = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.STATIC, connect_timeout=duration(10))
    c.load_assignment.cluster_name = name
    c.load_assignment.endpoints.add().lb_endpoints.add().endpoint.address.CopyFrom(
        socket_address(host, int(ep_port)))
    return c


def build_clusters(snapshot: MeshSnapshot, view: ProxyView, services: list[Service],
                   sidecar: Resource | None) -> dict[str, any_pb2.Any]:
    out = dict(shared(snapshot, ("cds-outbound", *outbound_scope(snapshot, view, sidecar)),
                      lambda: _outbound_clusters(snapshot, view, services)))
    for port, endpoint in ingress_ports(sidecar, view):
        c = inbound_cluster(view, port, endpoint)
        name_stats(c, inbound_stat_name(c.name, view, port, _namespace_services(snapshot, view.namespace)))
        out[c.name] = pack(c)
    blackhole = cluster_pb2.Cluster(name=names.BLACKHOLE, type=cluster_pb2.Cluster.STATIC,
                                    connect_timeout=duration(10))
    out[blackhole.name] = pack(blackhole)
    return out


def _outbound_clusters(snapshot: MeshSnapshot, view: ProxyView, services: list[Service]) -> dict[str, any_pb2.Any]:
    out: dict[str, any_pb2.Any] = {}
    for svc in services:
        dr = destination_rule_for(snapshot, view, svc.hostname)
        for sp in svc.ports:
            for subset, spec in [("", None)] + [(str(s.get("name")), s) for s in subsets(dr)]:
                c = outbound_cluster(snapshot, svc, sp, subset, merged_policy(dr, subset, sp.port))
                name_stats(c, outbound_stat_name(c.name, svc, spec))
                out[c.name] = pack(c)
    return out


def _namespace_services(snapshot: MeshSnapshot, namespace: str) -> list[Service]:
    by_ns = shared(snapshot, ("services-by-namespace",), lambda: _by_namespace(snapshot.services.values()))
    return by_ns.get(namespace, [])


def _by_namespace(services: Any) -> dict[str, list[Service]]:
    out: dict[str, list[Service]] = {}
    for s in sorted(services, key=lambda s: s.hostname):
        out.setdefault(s.namespace, []).append(s)
    return out
