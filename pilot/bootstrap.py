"""Envoy bootstrap for a sidecar or gateway: node identity, the ADS cluster, admin, and the loopback
source address. Returned as a plain dict (written as YAML), so no protobufs are needed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilot.bootstrap_stats import STATS_PORT, add_stats, identity_for
from pilot.model.proxy import NodeId


def bootstrap(node_id: str, *, xds_address: str = "127.0.0.1:15010", admin_address: str = "",
              token: str = "", delta: bool = False, xds_root_cert: str = "", xds_san: str = "",
              labels: Mapping[str, str] | None = None, workload_name: str = "", stats_port: int = STATS_PORT,
              service_cluster: str = "", interception_mode: str = "") -> dict[str, Any]:
    """`xds_root_cert` (a PEM file) turns on TLS to the control plane, which must present `xds_san`.
    `labels` (the pod's) and `workload_name` name the proxy in its metrics; Prometheus stats are served
    on `<admin IP>:stats_port` (0: not at all), see docs/telemetry-metrics.md. `service_cluster` is
    node.cluster, the service name Zipkin spans carry (Istio: `<app>.<namespace>`). `interception_mode`
    REDIRECT (iptables capture) goes into node metadata as Istio's INTERCEPTION_MODE."""
    node = NodeId.parse(node_id)
    xds_host, _, xds_port = xds_address.rpartition(":")
    admin_host, _, admin_port = (admin_address or f"{_admin_ip(node.ip)}:15000").rpartition(":")
    grpc_service: dict[str, Any] = {"envoy_grpc": {"cluster_name": "xds-grpc"}}
    if token:
        # The control plane authenticates the stream by this credential (bound to ns, sa and pod).
        grpc_service["initial_metadata"] = [{"key": "authorization", "value": f"Bearer {token}"}]
    xds_cluster = _xds_cluster(xds_host, int(xds_port))
    if xds_root_cert:
        xds_cluster["transport_socket"] = _xds_tls_socket(xds_root_cert, xds_san)
    doc = {
        "node": {
            "id": node_id,
            # Envoy refuses ADS without node.cluster; Istio uses <app>.<namespace>, which only the
            # caller knows (the node id names the pod), so the pod name stands in by default.
            "cluster": service_cluster or f"{node.pod}.{node.namespace}",
            "metadata": {"NAMESPACE": node.namespace, "POD_NAME": node.pod, "INSTANCE_IPS": node.ip,
                         **({"INTERCEPTION_MODE": interception_mode} if interception_mode else {})},
        },
        "admin": {"address": {"socket_address": {"address": admin_host, "port_value": int(admin_port)}}},
        "dynamic_resources": {
            "ads_config": {"api_type": "DELTA_GRPC" if delta else "GRPC", "transport_api_version": "V3",
                           "grpc_services": [grpc_service], "set_node_on_first_message_only": True},
            "cds_config": {"ads": {}, "resource_api_version": "V3"},
            "lds_config": {"ads": {}, "resource_api_version": "V3"},
        },
        "static_resources": {"clusters": [xds_cluster]},
        # On loopback every sidecar would otherwise connect from 127.0.0.1; binding upstream
        # connections to the pod IP lets servers (and RBAC ipBlocks) tell clients apart.
        "cluster_manager": {"upstream_bind_config": {"source_address": {"address": node.ip,
                                                                        "port_value": 0}}},
    }
    return add_stats(doc, identity_for(node.pod, node.namespace, labels, workload_name), admin_host,
                     int(admin_port), stats_port)


def _xds_cluster(host: str, port: int) -> dict[str, Any]:
    return {
        "name": "xds-grpc",
        "type": "STATIC",
        "connect_timeout": "1s",
        # Without HTTP/2 on the xDS cluster Envoy hangs silently in cm init.
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }},
        "load_assignment": {"cluster_name": "xds-grpc", "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": host, "port_value": port}}}}]}]},
    }


def _xds_tls_socket(root_cert_file: str, san: str) -> dict[str, Any]:
    # Static files only: SDS-over-ADS in a bootstrap cluster is circular (and crashes Envoy 1.40).
    # gRPC servers insist on ALPN h2.
    validation: dict[str, Any] = {"trusted_ca": {"filename": root_cert_file}}
    if san:
        validation["match_typed_subject_alt_names"] = [{"san_type": "URI", "matcher": {"exact": san}}]
    return {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": {"alpn_protocols": ["h2"], "validation_context": validation}}}


def _admin_ip(pod_ip: str) -> str:
    """loopback-mesh.md layout used by `pilot.testing.mesh`: admin two /24s above the pod IP."""
    parts = pod_ip.split(".")
    if len(parts) == 4 and parts[0] == "127" and int(parts[2]) < 250:
        return f"127.{parts[1]}.{int(parts[2]) + 2}.{parts[3]}"
    return "127.0.0.1"
