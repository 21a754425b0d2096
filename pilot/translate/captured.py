"""Istio's standard sidecar layout, for a proxy whose pod traffic iptables capture (captured-layout.md).

`generate_sidecar` builds the loopback layout first (listeners Sidecar entries bind, clusters,
endpoints, routes); for a captured proxy (node metadata INTERCEPTION_MODE REDIRECT or TPROXY) this
turns it into what istiod gives such a proxy:
- `virtualOutbound` :15001 and the per-destination listeners it hands off to (captured_listeners.py);
- `virtualInbound` :15006 with a chain per inbound port (virtual_inbound.py), in place of the bound
  inbound listeners (a Sidecar ingress entry with captureMode NONE keeps its own);
- `PassthroughCluster`, `InboundPassthroughCluster` and ORIGINAL_DST `inbound|<port>||` clusters;
- route configurations whose last virtual host follows outboundTrafficPolicy: ALLOW_ANY ->
  `allow_any` to PassthroughCluster, REGISTRY_ONLY -> `block_all` (502), as istiod's.
Listeners Sidecar egress entries bind (captureMode NONE) stay as they are.
"""

from __future__ import annotations

from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2

from pilot.model.proxy import ProxyView
from pilot.model.registry import Service
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot
from pilot.translate import names
from pilot.translate.captured_listeners import http_ports, port_listeners, virtual_outbound_listener
from pilot.translate.passthrough import catch_all_cluster, inbound_original_dst_cluster, passthrough_clusters
from pilot.translate.pb import duration, pack
from pilot.translate.resource_types import CLUSTER, LISTENER, ROUTE, Resources
from pilot.translate.routes import outbound_route_any
from pilot.translate.shared import outbound_scope, shared
from pilot.translate.stats_names import inbound_stat_name, name_stats
from pilot.translate.virtual_inbound import InboundPort, inbound_ports, virtual_inbound_listener

ALLOW_ANY_VHOST = "allow_any"


def captured_layout(snapshot: MeshSnapshot, view: ProxyView, sidecar: Resource | None, services: list[Service],
                    loopback: Resources) -> Resources:
    catch_all = catch_all_cluster(snapshot, sidecar)
    inbound = inbound_ports(snapshot, view, sidecar)
    listeners = _without_captured_inbound(loopback.get(LISTENER, {}), inbound)
    listeners.update(port_listeners(snapshot, view, services, sidecar, catch_all))
    outbound_port, inbound_port = snapshot.mesh.capture_ports
    for lis in (virtual_outbound_listener(view, catch_all, outbound_port),
                virtual_inbound_listener(view, inbound, inbound_port)):
        listeners[lis.name] = pack(lis)
    routes = dict(loopback.get(ROUTE, {}))
    for port in sorted({*http_ports(services), *(int(n) for n in routes if n.isdigit())}):
        routes[names.outbound_route_name(port)] = _route(snapshot, view, port, services, sidecar, catch_all)
    return {**loopback, LISTENER: listeners, ROUTE: routes,
            CLUSTER: _clusters(snapshot, view, inbound, loopback.get(CLUSTER, {}))}


def _without_captured_inbound(listeners: dict[str, any_pb2.Any],
                              inbound: list[InboundPort]) -> dict[str, any_pb2.Any]:
    """The loopback listeners minus the inbound ones the virtual inbound listener now stands for."""
    captured = {p.port for p in inbound if not p.bound}
    out = {}
    for name, packed in listeners.items():
        lis = listener_pb2.Listener()
        packed.Unpack(lis)
        if lis.traffic_direction == 1 and lis.address.socket_address.port_value in captured:
            continue
        out[name] = packed
    return out


def _clusters(snapshot: MeshSnapshot, view: ProxyView, inbound: list[InboundPort],
              clusters: dict[str, any_pb2.Any]) -> dict[str, any_pb2.Any]:
    out = dict(clusters)
    for c in passthrough_clusters(snapshot):
        out[c.name] = pack(c)
    for p in inbound:
        name = names.inbound_cluster(p.port)
        if p.endpoint or name in out:
            continue  # a Sidecar defaultEndpoint: the loopback inbound cluster already goes there
        c = inbound_original_dst_cluster(p.port, snapshot.mesh.connect_timeout_s)
        name_stats(c, inbound_stat_name(c.name, view, p.port, snapshot.services.values()))
        out[name] = pack(c)
    return out


def _route(snapshot: MeshSnapshot, view: ProxyView, port: int, services: list[Service], sidecar: Resource | None,
           catch_all: str) -> any_pb2.Any:
    base = outbound_route_any(snapshot, view, port, services, sidecar)
    if catch_all != names.PASSTHROUGH:
        return base  # REGISTRY_ONLY: the loopback route's block_all is istiod's too
    return shared(snapshot, ("rds-allow-any", port, *outbound_scope(snapshot, view, sidecar)),
                  lambda: pack(allow_any(base)))


def allow_any(packed: any_pb2.Any) -> route_pb2.RouteConfiguration:
    """The route configuration with its `block_all` catch-all replaced by istiod's ALLOW_ANY one."""
    rcfg = route_pb2.RouteConfiguration()
    packed.Unpack(rcfg)
    kept = [vh for vh in rcfg.virtual_hosts if vh.name != "block_all"]
    del rcfg.virtual_hosts[:]
    rcfg.virtual_hosts.extend(kept)
    vh = rcfg.virtual_hosts.add(name=ALLOW_ANY_VHOST, domains=["*"])
    r = vh.routes.add(name=ALLOW_ANY_VHOST, match=rc.RouteMatch(prefix="/"))
    r.route.cluster = names.PASSTHROUGH
    r.route.timeout.CopyFrom(duration(0))
    return rcfg
