"""CDS: outbound EDS clusters per visible service port and subset, inbound clusters per Sidecar ingress.

Traffic policy (load balancer, connection pool, outlier detection) follows the DestinationRule with
Istio's precedence: subset portLevelSettings > subset policy > DR portLevelSettings > DR top level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import protocol_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import any_pb2

from pilot.model.durations import parse_duration
from pilot.model.proxy import ProxyView
from pilot.model.registry import Service, ServicePort
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for, subsets
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.pb import ads_config_source, duration, pack, socket_address, u32
from pilot.translate.sidecar_ports import ingress_ports

_LB = {
    "ROUND_ROBIN": cluster_pb2.Cluster.ROUND_ROBIN,
    "LEAST_REQUEST": cluster_pb2.Cluster.LEAST_REQUEST,
    "LEAST_CONN": cluster_pb2.Cluster.LEAST_REQUEST,
    "RANDOM": cluster_pb2.Cluster.RANDOM,
    "UNSPECIFIED": cluster_pb2.Cluster.LEAST_REQUEST,
}
_MAX = 2**32 - 1
HTTP_OPTIONS_EXT = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def merged_policy(dr: Resource | None, subset: str, port: int) -> dict[str, Any]:
    """The effective trafficPolicy for one cluster (each top-level block replaces the lower one)."""
    if dr is None:
        return {}
    layers: list[Mapping[str, Any]] = []
    top = dr.spec.get("trafficPolicy") or {}
    layers.append(top)
    layers.append(_port_level(top, port))
    if subset:
        ss = next((s for s in subsets(dr) if s.get("name") == subset), {})
        sub = ss.get("trafficPolicy") or {}
        layers.append(sub)
        layers.append(_port_level(sub, port))
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            if k != "portLevelSettings" and v is not None:
                out[k] = v
    return out


def _port_level(policy: Mapping[str, Any], port: int) -> Mapping[str, Any]:
    for pls in policy.get("portLevelSettings") or []:
        if int((pls.get("port") or {}).get("number", -1)) == port:
            return {k: v for k, v in pls.items() if k != "port"}
    return {}


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


def apply_traffic_policy(c: cluster_pb2.Cluster, policy: Mapping[str, Any], sp: ServicePort) -> None:
    lb = policy.get("loadBalancer") or {}
    c.lb_policy = _LB.get(str(lb.get("simple", "LEAST_REQUEST")), cluster_pb2.Cluster.LEAST_REQUEST)
    ch = lb.get("consistentHash")
    if ch:
        c.lb_policy = cluster_pb2.Cluster.MAGLEV if "maglev" in ch else cluster_pb2.Cluster.RING_HASH
        if "ringHash" in ch and (ch["ringHash"] or {}).get("minimumRingSize"):
            c.ring_hash_lb_config.minimum_ring_size.value = int(ch["ringHash"]["minimumRingSize"])
        elif "minimumRingSize" in ch:
            c.ring_hash_lb_config.minimum_ring_size.value = int(ch["minimumRingSize"])
    _apply_connection_pool(c, policy.get("connectionPool") or {}, sp)
    od = policy.get("outlierDetection")
    if od:
        c.outlier_detection.CopyFrom(outlier_detection(od))


def _apply_connection_pool(c: cluster_pb2.Cluster, pool: Mapping[str, Any], sp: ServicePort) -> None:
    tcp = pool.get("tcp") or {}
    http = pool.get("http") or {}
    # Istio's defaults: every threshold at max uint32, so Envoy's own 1024 limits never bite.
    th = circuit_breaker_pb2.CircuitBreakers.Thresholds(
        max_connections=u32(int(tcp.get("maxConnections", _MAX))),
        max_pending_requests=u32(int(http.get("http1MaxPendingRequests", _MAX))),
        max_requests=u32(int(http.get("http2MaxRequests", _MAX))),
        max_retries=u32(int(http.get("maxRetries", _MAX))),
        track_remaining=True,
    )
    c.circuit_breakers.thresholds.append(th)
    if "connectTimeout" in tcp:
        c.connect_timeout.CopyFrom(duration(parse_duration(tcp["connectTimeout"])))
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    touched = False
    common = opts.common_http_protocol_options
    if "idleTimeout" in http:
        common.idle_timeout.CopyFrom(duration(parse_duration(http["idleTimeout"])))
        touched = True
    if http.get("maxRequestsPerConnection"):
        common.max_requests_per_connection.value = int(http["maxRequestsPerConnection"])
        touched = True
    if sp.protocol in ("HTTP2", "GRPC") or http.get("h2UpgradePolicy") == "UPGRADE":
        opts.explicit_http_config.http2_protocol_options.CopyFrom(protocol_pb2.Http2ProtocolOptions())
        touched = True
    elif touched:
        opts.explicit_http_config.http_protocol_options.CopyFrom(protocol_pb2.Http1ProtocolOptions())
    if touched:
        c.typed_extension_protocol_options[HTTP_OPTIONS_EXT].CopyFrom(pack(opts))


def outlier_detection(od: Mapping[str, Any]) -> outlier_detection_pb2.OutlierDetection:
    o = outlier_detection_pb2.OutlierDetection(
        # Istio turns success-rate ejection off and drives everything by consecutive errors.
        enforcing_success_rate=u32(0),
        interval=duration(parse_duration(od.get("interval", "10s"))),
        base_ejection_time=duration(parse_duration(od.get("baseEjectionTime", "30s"))),
        max_ejection_percent=u32(int(od.get("maxEjectionPercent", 10))),
    )
    c5 = od.get("consecutive5xxErrors", od.get("consecutiveErrors"))
    if c5 is not None:
        o.consecutive_5xx.value = int(c5)
        o.enforcing_consecutive_5xx.value = 100 if int(c5) > 0 else 0
    else:
        o.consecutive_5xx.value = 5
        o.enforcing_consecutive_5xx.value = 100
    if od.get("consecutiveGatewayErrors") is not None:
        o.consecutive_gateway_failure.value = int(od["consecutiveGatewayErrors"])
        o.enforcing_consecutive_gateway_failure.value = 100
    return o


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
    out: dict[str, any_pb2.Any] = {}
    for svc in services:
        dr = destination_rule_for(snapshot, view, svc.hostname)
        for sp in svc.ports:
            for subset in [""] + [str(s.get("name")) for s in subsets(dr)]:
                c = outbound_cluster(snapshot, svc, sp, subset, merged_policy(dr, subset, sp.port))
                out[c.name] = pack(c)
    for port, endpoint in ingress_ports(sidecar, view):
        c = inbound_cluster(view, port, endpoint)
        out[c.name] = pack(c)
    blackhole = cluster_pb2.Cluster(name=names.BLACKHOLE, type=cluster_pb2.Cluster.STATIC,
                                    connect_timeout=duration(10))
    out[blackhole.name] = pack(blackhole)
    return out
