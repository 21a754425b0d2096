"""Put the RateLimitPolicy filters of a proxy into its inbound HTTP connection managers, and the
`meshpilot-ratelimit` cluster next to them when a rule is global. Runs before EnvoyFilters, so users can
still patch what it produced."""

from __future__ import annotations

import ipaddress

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import any_pb2

from pilot.model.findings import Finding, Severity
from pilot.model.proxy import ProxyView
from pilot.model.ratelimit import RateLimitRule, rules_for
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.pb import duration, pack, socket_address, type_url
from pilot.translate.ratelimit.filters import RLS_CLUSTER, global_filter, local_filter

Resources = dict[str, dict[str, any_pb2.Any]]
CLUSTER = type_url(cluster_pb2.Cluster)
LISTENER = type_url(listener_pb2.Listener)
HTTP2_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
AUTH_TYPES = frozenset({"type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                        "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"})


def apply_rate_limit_policies(snapshot: MeshSnapshot, view: ProxyView,
                              resources: Resources) -> tuple[Resources, list[Finding]]:
    rules = rules_for(snapshot.of_kind("RateLimitPolicy"), view)
    if not rules:
        return resources, []
    findings: list[Finding] = []
    address = snapshot.mesh.rate_limit_service
    if not address and any(r.is_global for r in rules):
        findings.extend(_no_service(snapshot, r) for r in rules if r.is_global)
        rules = [r for r in rules if not r.is_global]
    filters = [local_filter(r) for r in rules if not r.is_global] + [global_filter(r) for r in rules if r.is_global]
    out = {t: dict(v) for t, v in resources.items()}
    listeners = out.setdefault(LISTENER, {})
    for name, packed in list(listeners.items()):
        lis = listener_pb2.Listener()
        packed.Unpack(lis)
        if lis.traffic_direction == 1 and _insert(lis, filters):  # INBOUND
            listeners[name] = pack(lis)
    if any(r.is_global for r in rules):
        out.setdefault(CLUSTER, {})[RLS_CLUSTER] = pack(rate_limit_cluster(address))
    return out, findings


def _insert(lis: listener_pb2.Listener, filters: list[hcm.HttpFilter]) -> bool:
    changed = False
    for chain in lis.filter_chains:
        for f in chain.filters:
            manager = hcm.HttpConnectionManager()
            if not f.typed_config.Is(manager.DESCRIPTOR):
                continue
            f.typed_config.Unpack(manager)
            current = list(manager.http_filters)
            # After authentication and authorization, as Istio orders its filters: a request that is
            # refused anyway must not spend a token.
            at = next((i for i, h in enumerate(current) if h.typed_config.type_url not in AUTH_TYPES), len(current))
            del manager.http_filters[:]
            manager.http_filters.extend(current[:at] + filters + current[at:])
            f.typed_config.Pack(manager, deterministic=True)
            changed = True
    return changed


def rate_limit_cluster(address: str) -> cluster_pb2.Cluster:
    """An HTTP/2 cluster to meshpilot's rate limit service (gRPC): static for an IP, DNS for a name."""
    host, _, port = address.rpartition(":")
    kind = cluster_pb2.Cluster.STATIC if _is_ip(host) else cluster_pb2.Cluster.STRICT_DNS
    c = cluster_pb2.Cluster(name=RLS_CLUSTER, type=kind, connect_timeout=duration(1))
    c.load_assignment.cluster_name = RLS_CLUSTER
    ep = c.load_assignment.endpoints.add().lb_endpoints.add()
    ep.endpoint.address.CopyFrom(socket_address(host, int(port)))
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    opts.explicit_http_config.http2_protocol_options.SetInParent()
    c.typed_extension_protocol_options[HTTP2_OPTIONS].Pack(opts, deterministic=True)
    return c


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _no_service(snapshot: MeshSnapshot, rule: RateLimitRule) -> Finding:
    policy = next(p for p in snapshot.of_kind("RateLimitPolicy")
                  if (p.namespace, p.name) == (rule.policy_namespace, rule.policy_name))
    return Finding.about(policy, "spec.rules", f"rule {rule.name} is global but no rate limit service is "
                         "configured (mesh config rateLimitService); the rule is left out",
                         code="MP5101", severity=Severity.WARNING)
