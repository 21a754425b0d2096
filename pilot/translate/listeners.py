"""LDS: Sidecar ingress listeners on `podIP:port` and egress listeners on `bind:port`.

On loopback there is no iptables capture, so every listener binds its own address, as Istio does for a
Sidecar with `captureMode: NONE` (see loopback-mesh.md). Outbound HTTP listeners use RDS named after the
port; inbound listeners carry their route inline, named after the inbound cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from google.protobuf import any_pb2

from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.translate import names
from pilot.translate.pb import ads_config_source, duration, pack, socket_address
from pilot.translate.route_actions import CORS_FILTER, FAULT_FILTER
from pilot.translate.sidecar_ports import egress_listeners, ingress_ports

HCM_NAME = "envoy.filters.network.http_connection_manager"
TCP_PROXY_NAME = "envoy.filters.network.tcp_proxy"


def default_http_filters() -> list[hcm.HttpFilter]:
    """Istio's order: ... fault, cors, ..., router (last). Authorization filters go before fault."""
    return [
        hcm.HttpFilter(name=FAULT_FILTER, typed_config=pack(fault_pb2.HTTPFault())),
        hcm.HttpFilter(name=CORS_FILTER, typed_config=pack(cors_pb2.Cors())),
        hcm.HttpFilter(name="envoy.filters.http.router", typed_config=pack(router_pb2.Router())),
    ]


def http_connection_manager(stat_prefix: str, *, rds: str = "",
                            route_config: route_pb2.RouteConfiguration | None = None,
                            extra_filters: Sequence[hcm.HttpFilter] = ()) -> hcm.HttpConnectionManager:
    m = hcm.HttpConnectionManager(stat_prefix=stat_prefix, codec_type=hcm.HttpConnectionManager.AUTO)
    if rds:
        m.rds.route_config_name = rds
        m.rds.config_source.CopyFrom(ads_config_source())
    elif route_config is not None:
        m.route_config.CopyFrom(route_config)
    m.http_filters.extend(list(extra_filters) + default_http_filters())
    # Streams may be long (no route timeout by default), so only bound idle connections.
    m.common_http_protocol_options.idle_timeout.CopyFrom(duration(3600))
    return m


def network_filter(name: str, msg: object) -> listener_components_pb2.Filter:
    return listener_components_pb2.Filter(name=name, typed_config=pack(msg))  # type: ignore[arg-type]


def outbound_listener(bind: str, port: int, protocol: str, tcp_cluster: str = "") -> listener_pb2.Listener:
    lis = listener_pb2.Listener(name=names.listener_name(bind, port), address=socket_address(bind, port))
    lis.traffic_direction = 2  # OUTBOUND
    chain = lis.filter_chains.add()
    if protocol in ("TCP", "TLS", "MONGO", "MYSQL", "REDIS") and tcp_cluster:
        chain.filters.append(network_filter(TCP_PROXY_NAME, tcp_proxy_pb2.TcpProxy(
            stat_prefix=tcp_cluster, cluster=tcp_cluster)))
    else:
        chain.filters.append(network_filter(HCM_NAME, http_connection_manager(
            f"outbound_{bind}_{port}", rds=names.outbound_route_name(port))))
    return lis


def inbound_route_config(port: int) -> route_pb2.RouteConfiguration:
    cluster = names.inbound_cluster(port)
    rcfg = route_pb2.RouteConfiguration(name=cluster)
    rcfg.validate_clusters.value = False
    vh = rcfg.virtual_hosts.add(name=names.inbound_vhost_name(port), domains=["*"])
    r = vh.routes.add(name="default", match=rc.RouteMatch(prefix="/"))
    r.route.cluster = cluster
    r.route.timeout.CopyFrom(duration(0))
    return rcfg


def inbound_listener(view: ProxyView, port: int, http: bool = True,
                     extra_filters: Sequence[hcm.HttpFilter] = ()) -> listener_pb2.Listener:
    lis = listener_pb2.Listener(name=names.listener_name(view.ip, port), address=socket_address(view.ip, port))
    lis.traffic_direction = 1  # INBOUND
    chain = lis.filter_chains.add(name=f"0.0.0.0_{port}")
    if http:
        chain.filters.append(network_filter(HCM_NAME, http_connection_manager(
            f"inbound_0.0.0.0_{port}", route_config=inbound_route_config(port), extra_filters=extra_filters)))
    else:
        chain.filters.append(network_filter(TCP_PROXY_NAME, tcp_proxy_pb2.TcpProxy(
            stat_prefix=names.inbound_cluster(port), cluster=names.inbound_cluster(port))))
    return lis


def build_listeners(view: ProxyView, sidecar: Resource | None,
                    tcp_cluster_for_port: dict[int, str]) -> dict[str, any_pb2.Any]:
    out: dict[str, any_pb2.Any] = {}
    for port, _endpoint in ingress_ports(sidecar, view):
        proto = _ingress_protocol(sidecar, port)
        lis = inbound_listener(view, port, http=proto not in ("TCP", "TLS"))
        out[lis.name] = pack(lis)
    for bind, port, protocol in egress_listeners(sidecar):
        lis = outbound_listener(bind, port, protocol, tcp_cluster_for_port.get(port, ""))
        out[lis.name] = pack(lis)
    return out


def _ingress_protocol(sidecar: Resource | None, port: int) -> str:
    for ing in (sidecar.spec.get("ingress") or []) if sidecar else []:
        p = ing.get("port") or {}
        if int(p.get("number", 0)) == port:
            return str(p.get("protocol", "HTTP")).upper()
    return "HTTP"
