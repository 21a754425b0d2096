"""One entry point: all resources of every type for one proxy, keyed by type URL then name."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2

from pilot.model.findings import Finding
from pilot.model.proxy import ProxyView
from pilot.model.scope import sidecar_for, visible_services
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.clusters import build_clusters
from pilot.translate.endpoints import build_endpoints
from pilot.translate.envoyfilter import apply_envoy_filters
from pilot.translate.listeners import build_listeners
from pilot.translate.pb import pack, type_url
from pilot.translate.ratelimit import apply_rate_limit_policies
from pilot.translate.routes import outbound_route_config
from pilot.translate.sidecar_ports import egress_listeners

CLUSTER = type_url(cluster_pb2.Cluster)
ENDPOINT = type_url(endpoint_pb2.ClusterLoadAssignment)
LISTENER = type_url(listener_pb2.Listener)
ROUTE = type_url(route_pb2.RouteConfiguration)

Resources = dict[str, dict[str, any_pb2.Any]]


def generate(snapshot: MeshSnapshot, view: ProxyView) -> Resources:
    return generate_with_findings(snapshot, view)[0]


def generate_with_findings(snapshot: MeshSnapshot, view: ProxyView) -> tuple[Resources, list[Finding]]:
    """Resources plus what translation found wrong on the way (e.g. EnvoyFilter patches it left out)."""
    return finish(snapshot, view, generate_base(snapshot, view))


def generate_base(snapshot: MeshSnapshot, view: ProxyView) -> Resources:
    """The mesh's own config for a proxy, before policies that post-process it (security is applied to
    this by the push loop's generator, RateLimitPolicies and EnvoyFilters by `finish`)."""
    sidecar = sidecar_for(snapshot, view)
    services = visible_services(snapshot, view, sidecar)
    tcp_cluster_for_port: dict[int, str] = {}
    routes: dict[str, any_pb2.Any] = {}
    for bind, port, protocol in egress_listeners(sidecar):
        if protocol in ("TCP", "TLS"):
            svc = next((s for s in services if s.port(port)), None)
            if svc is not None:
                tcp_cluster_for_port[port] = names.outbound_cluster(port, "", svc.hostname)
            continue
        rcfg = outbound_route_config(snapshot, view, port, services, sidecar)
        routes[rcfg.name] = pack(rcfg)
        _ = bind
    return {
        CLUSTER: build_clusters(snapshot, view, services, sidecar),
        ENDPOINT: build_endpoints(snapshot, view, services),
        LISTENER: build_listeners(view, sidecar, tcp_cluster_for_port),
        ROUTE: routes,
    }


def finish(snapshot: MeshSnapshot, view: ProxyView, resources: Resources) -> tuple[Resources, list[Finding]]:
    """The last steps, in Istio's order: RateLimitPolicy filters, then EnvoyFilter patches over the
    finished config (istiod applies EnvoyFilters after everything else it generates)."""
    limited, findings = apply_rate_limit_policies(snapshot, view, resources)
    patched, patch_findings = apply_envoy_filters(snapshot, view, limited)
    return patched, findings + patch_findings
