"""Predicates for `match` blocks: context, listener / filter chain / filters, route configuration /
virtual host / route, cluster. Names are the generated ones (names.py), so they are part of the API.
https://istio.io/latest/docs/reference/config/networking/envoy-filter/#EnvoyFilter-EnvoyConfigObjectMatch
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from pilot.model.proxy import ProxyView
from pilot.translate import names
from pilot.translate.envoyfilter.selection import canonical_filter_name

Spec = Mapping[str, Any]
INBOUND, OUTBOUND = 1, 2


def context_matches(context: str, view: ProxyView, inbound: bool) -> bool:
    if context == "ANY":
        return True
    if context == "GATEWAY":
        return view.is_gateway
    if view.is_gateway:
        return False
    return inbound if context == "SIDECAR_INBOUND" else not inbound


def _port(spec: Spec, key: str = "portNumber") -> int:
    try:
        return int(spec.get(key) or 0)
    except (TypeError, ValueError):
        return -1


# ---- listeners -----------------------------------------------------------------------------------
def listener_matches(spec: Spec, lis: listener_pb2.Listener) -> bool:
    port = _port(spec)
    if port and lis.address.socket_address.port_value != port:
        return False
    return not spec.get("name") or spec["name"] == lis.name


def chain_matches(spec: Spec, chain: listener_components_pb2.FilterChain, listener_port: int) -> bool:
    if spec.get("name") and spec["name"] != chain.name:
        return False
    dport = _port(spec, "destinationPort")
    fcm = chain.filter_chain_match
    if dport and (fcm.destination_port.value or listener_port) != dport:
        return False
    if spec.get("sni") and spec["sni"] not in fcm.server_names:
        return False
    if spec.get("transportProtocol") and spec["transportProtocol"] != (fcm.transport_protocol or "raw_buffer"):
        return False
    wanted = set(spec.get("applicationProtocols", "").split(",")) - {""} if isinstance(
        spec.get("applicationProtocols"), str) else set()
    return not wanted or bool(wanted & set(fcm.application_protocols))


def name_matches(wanted: object, name: str) -> bool:
    return not wanted or canonical_filter_name(str(wanted)) == canonical_filter_name(name)


def http_filter_selector(sub: Spec):  # type: ignore[no-untyped-def]
    return lambda f: isinstance(f, hcm.HttpFilter) and name_matches(sub.get("name"), f.name)


# ---- routes --------------------------------------------------------------------------------------
def route_config_matches(spec: Spec, rcfg_name: str, port: int) -> bool:
    if spec.get("name") and spec["name"] != rcfg_name:
        return False
    want = _port(spec)
    return not want or want == port


def vhost_matches(spec: Spec, vh: rc.VirtualHost) -> bool:
    if spec.get("name") and spec["name"] != vh.name:
        return False
    return not spec.get("domainName") or spec["domainName"] in vh.domains


_ACTIONS = {"ROUTE": "route", "REDIRECT": "redirect", "DIRECT_RESPONSE": "direct_response"}


def route_matches(spec: Spec, route: rc.Route) -> bool:
    if spec.get("name") and spec["name"] != route.name:
        return False
    action = str(spec.get("action") or "ANY")
    return action == "ANY" or route.WhichOneof("action") == _ACTIONS.get(action)


# ---- clusters ------------------------------------------------------------------------------------
def cluster_matches(spec: Spec, cluster: cluster_pb2.Cluster) -> bool:
    if spec.get("name") and spec["name"] != cluster.name:
        return False
    parsed = names.parse_outbound_cluster(cluster.name)
    port = _port(spec)
    if port and not (parsed and parsed[0] == port) and cluster.name != names.inbound_cluster(port):
        return False
    if spec.get("service") and not (parsed and parsed[2] == spec["service"]):
        return False
    return not spec.get("subset") or bool(parsed and parsed[1] == spec["subset"])


def cluster_is_inbound(name: str) -> bool:
    return name.startswith("inbound|")
