"""ROUTE_CONFIGURATION, VIRTUAL_HOST and HTTP_ROUTE patches: over RDS route configurations (outbound)
and the route configurations inlined in inbound listeners (istiod patches those as SIDECAR_INBOUND)."""

from __future__ import annotations

from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from google.protobuf.message import Message

from pilot.model.proxy import ProxyView
from pilot.translate.envoyfilter import matching as m
from pilot.translate.envoyfilter.lists import apply_op, merge, unpack
from pilot.translate.envoyfilter.selection import Patch
from pilot.translate.envoyfilter.state import PatchState
from pilot.translate.pb import type_url

LISTENER = type_url(listener_pb2.Listener)
ROUTE = type_url(route_pb2.RouteConfiguration)


def patch_routes(state: PatchState, view: ProxyView, patch: Patch, value: Message | None) -> bool:
    spec = patch.match.get("routeConfiguration") or {}
    changed = False
    if m.context_matches(patch.context, view, inbound=False):
        for name, rcfg in list(state.items(ROUTE)):
            assert isinstance(rcfg, route_pb2.RouteConfiguration)
            port = rds_port(name)
            if not m.route_config_matches(spec, name, port):
                continue
            copy = route_pb2.RouteConfiguration()
            copy.CopyFrom(rcfg)
            if _patch_route_config(copy, spec, patch, value):
                state.put(ROUTE, name, copy)
                changed = True
    if m.context_matches(patch.context, view, inbound=True):
        for name, lis in list(state.items(LISTENER)):
            assert isinstance(lis, listener_pb2.Listener)
            if lis.traffic_direction != m.INBOUND:
                continue
            copy = listener_pb2.Listener()
            copy.CopyFrom(lis)
            if _patch_inline_routes(copy, spec, patch, value):
                state.put(LISTENER, name, copy)
                changed = True
    return changed


def rds_port(name: str) -> int:
    """The port an RDS name stands for: `9080` (sidecar), `http.8080` / `https.8443.<...>` (gateway)."""
    parts = name.split(".")
    digits = parts[0] if parts[0].isdigit() else (parts[1] if len(parts) > 1 and parts[1].isdigit() else "")
    return int(digits) if digits else 0


def _patch_inline_routes(lis: listener_pb2.Listener, spec: m.Spec, patch: Patch, value: Message | None) -> bool:
    changed = False
    port = lis.address.socket_address.port_value
    for chain in lis.filter_chains:
        for f in chain.filters:
            manager = unpack(f.typed_config) if f.HasField("typed_config") else None
            if not isinstance(manager, hcm.HttpConnectionManager) or not manager.HasField("route_config"):
                continue
            if not m.route_config_matches(spec, manager.route_config.name, port):
                continue
            if _patch_route_config(manager.route_config, spec, patch, value):
                f.typed_config.Pack(manager, deterministic=True)
                changed = True
    return changed


def _patch_route_config(rcfg: route_pb2.RouteConfiguration, spec: m.Spec, patch: Patch,
                        value: Message | None) -> bool:
    if patch.apply_to == "ROUTE_CONFIGURATION":
        assert value is not None
        merge(rcfg, value)
        return True
    vspec = spec.get("vhost") or {}
    if patch.apply_to == "VIRTUAL_HOST":
        return apply_op(rcfg.virtual_hosts, patch.operation, lambda vh: m.vhost_matches(vspec, vh), value)
    rspec = vspec.get("route") or {}
    changed = False
    for vh in rcfg.virtual_hosts:
        if m.vhost_matches(vspec, vh):
            changed |= apply_op(vh.routes, patch.operation, lambda r: m.route_matches(rspec, r), value)
    return changed
