"""One entry point: all resources of every type for one proxy, keyed by type URL then name."""

from __future__ import annotations

from google.protobuf import any_pb2

from pilot.model.findings import Finding
from pilot.model.proxy import ProxyView
from pilot.model.scope import sidecar_for, visible_services
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.captured import captured_layout
from pilot.translate.clusters import build_clusters
from pilot.translate.endpoints import build_endpoints
from pilot.translate.envoyfilter import apply_envoy_filters
from pilot.translate.gateway import gateway_resources
from pilot.translate.listeners import build_listeners
from pilot.translate.pb import pack
from pilot.translate.ratelimit import apply_rate_limit_policies
from pilot.translate.request_authn import apply_request_authentication
from pilot.translate.resource_types import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, Resources
from pilot.translate.routes import outbound_route_any
from pilot.translate.secure_generate import apply_security
from pilot.translate.sidecar_ports import egress_listeners
from pilot.translate.tcp_routes import outbound_tcp_listener, outbound_tls_listener
from pilot.translate.telemetry import apply_telemetry

__all__ = ["CLUSTER", "ENDPOINT", "LISTENER", "ROUTE", "SECRET", "Resources", "generate", "generate_with_findings"]
_OPAQUE_TCP = ("TCP", "MONGO", "MYSQL", "REDIS")


def generate(snapshot: MeshSnapshot, view: ProxyView) -> Resources:
    """Everything one proxy gets: routing, then security (mTLS per PeerAuthentication when the mesh has a
    CA, AuthorizationPolicy as RBAC, DestinationRule TLS, RequestAuthentication as jwt_authn), then
    RateLimitPolicies and EnvoyFilters."""
    return generate_with_findings(snapshot, view)[0]


def generate_with_findings(snapshot: MeshSnapshot, view: ProxyView) -> tuple[Resources, list[Finding]]:
    """`generate` plus what translation found wrong on the way (e.g. EnvoyFilter patches it left out)."""
    routed = generate_gateway(snapshot, view) if view.is_gateway else generate_sidecar(snapshot, view)
    # Before security, so a collector cluster added for tracing gets TLS like any outbound cluster.
    base, telemetry_findings = apply_telemetry(snapshot, view, routed)
    security_findings: list[Finding] = []
    secured = apply_security(snapshot, view, base, mtls=snapshot.mesh.workload_mtls, findings=security_findings)
    # After security, so jwt_authn lands before the RBAC filters that read its payload.
    authenticated, jwt_findings = apply_request_authentication(snapshot, view, secured)
    resources, findings = finish(snapshot, view, authenticated)
    return resources, telemetry_findings + security_findings + jwt_findings + findings


def generate_sidecar(snapshot: MeshSnapshot, view: ProxyView) -> Resources:
    sidecar = sidecar_for(snapshot, view)
    services = visible_services(snapshot, view, sidecar)
    routes: dict[str, any_pb2.Any] = {}
    listeners = build_listeners(view, sidecar, {})
    for bind, port, protocol in egress_listeners(sidecar):
        if protocol in _OPAQUE_TCP or protocol == "TLS":
            build = outbound_tls_listener if protocol == "TLS" else outbound_tcp_listener
            lis = build(snapshot, view, bind, port, services, sidecar)
            listeners[lis.name] = pack(lis)
            continue
        routes[str(port)] = outbound_route_any(snapshot, view, port, services, sidecar)
    loopback = {
        CLUSTER: build_clusters(snapshot, view, services, sidecar),
        ENDPOINT: build_endpoints(snapshot, view, services, sidecar),
        LISTENER: listeners,
        ROUTE: routes,
    }
    # iptables capture (node metadata INTERCEPTION_MODE): Istio's virtualOutbound/virtualInbound layout
    return captured_layout(snapshot, view, sidecar, services, loopback) if view.captured else loopback


def finish(snapshot: MeshSnapshot, view: ProxyView, resources: Resources) -> tuple[Resources, list[Finding]]:
    """The last steps, in Istio's order: RateLimitPolicy filters, then EnvoyFilter patches over the
    finished config (istiod applies EnvoyFilters after everything else it generates)."""
    limited, findings = apply_rate_limit_policies(snapshot, view, resources)
    patched, patch_findings = apply_envoy_filters(snapshot, view, limited)
    return patched, findings + patch_findings


def generate_gateway(snapshot: MeshSnapshot, view: ProxyView) -> Resources:
    """A router sees every exported service; its listeners come from the Gateways selecting it, and
    it alone gets server certificates (`kubernetes://<credentialName>`) over SDS."""
    services = visible_services(snapshot, view, None)
    listeners, routes, secrets = gateway_resources(snapshot, view)
    return {
        CLUSTER: build_clusters(snapshot, view, services, None),
        ENDPOINT: build_endpoints(snapshot, view, services),
        LISTENER: listeners,
        ROUTE: routes,
        SECRET: secrets,
    }
