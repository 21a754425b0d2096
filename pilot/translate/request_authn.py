"""Put the RequestAuthentication `jwt_authn` filter on the HTTP connection managers that take requests in.

Istio adds it to sidecar inbound and gateway connection managers only, never to sidecar outbound ones
(the server side validates the token). It runs after security, so the filter goes first: before the
RBAC filters that read its payload, before rate limits (added later by `finish`) and the router.
"""

from __future__ import annotations

from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
    HttpFilter,
)
from google.protobuf.any_pb2 import Any as AnyPb

from pilot.model.findings import Finding
from pilot.model.proxy import ProxyView
from pilot.model.requestauthn import jwt_rules_for
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.jwt_authn import jwt_authn_filter
from pilot.translate.listeners import HCM_NAME
from pilot.translate.pb import pack
from pilot.translate.resource_types import LISTENER, Resources

INBOUND = 1  # core.v3.TrafficDirection.INBOUND


def apply_request_authentication(snapshot: MeshSnapshot, view: ProxyView,
                                 resources: Resources) -> tuple[Resources, list[Finding]]:
    findings: list[Finding] = []
    # Only gateways route on claims (sidecar outbound has no jwt_authn): only they re-pick the route.
    jwt_filter = jwt_authn_filter(jwt_rules_for(snapshot, view), findings, clear_route_cache=view.is_gateway)
    if jwt_filter is None or LISTENER not in resources:
        return resources, findings
    out = dict(resources)
    out[LISTENER] = {name: _with_jwt(res, jwt_filter, gateway=view.is_gateway)
                     for name, res in resources[LISTENER].items()}
    return out, findings


def _with_jwt(packed: AnyPb, jwt_filter: HttpFilter, *, gateway: bool) -> AnyPb:
    lis = Listener()
    packed.Unpack(lis)
    if not gateway and lis.traffic_direction != INBOUND:
        return packed
    changed = False
    for chain in lis.filter_chains:
        for f in chain.filters:
            if f.name != HCM_NAME:
                continue
            manager = HttpConnectionManager()
            f.typed_config.Unpack(manager)
            manager.http_filters.insert(0, jwt_filter)
            f.typed_config.CopyFrom(pack(manager))
            changed = True
    return pack(lis) if changed else packed
