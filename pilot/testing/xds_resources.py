"""Small, valid Envoy resources for xDS tests, each packed in an Any (built from dicts for brevity).

Clusters are EDS clusters fetched over ADS, listeners use an HTTP connection manager whose routes come
over RDS, routes answer with a direct_response: enough for a real Envoy to ACK every type and answer
HTTP without any upstream.
"""

from __future__ import annotations

import base64
from typing import Any as AnyT

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2

# Imported for their descriptors: json_format resolves typed_config "@type"s through the pool.
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import (  # noqa: F401
    http_connection_manager_pb2,
)
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2, tls_pb2  # noqa: F401
from google.protobuf import json_format
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET

ADS: dict[str, AnyT] = {"ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": "0s"}


def pack(message: Message) -> Any:
    packed = Any()
    packed.Pack(message, deterministic=True)
    return packed


def cluster(name: str, *, connect_timeout: str = "1s", tls_secret: str | None = None) -> Any:
    spec: dict[str, AnyT] = {
        "name": name,
        "type": "EDS",
        "connect_timeout": connect_timeout,
        "eds_cluster_config": {"eds_config": ADS},
    }
    if tls_secret is not None:
        spec["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "common_tls_context": {
                    "validation_context_sds_secret_config": {"name": tls_secret, "sds_config": ADS}
                },
            },
        }
    return pack(json_format.ParseDict(spec, cluster_pb2.Cluster()))


def endpoints(cluster_name: str, *addresses: tuple[str, int]) -> Any:
    lb = [
        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
        for host, port in addresses
    ]
    spec = {"cluster_name": cluster_name, "endpoints": [{"lb_endpoints": lb}] if lb else []}
    return pack(json_format.ParseDict(spec, endpoint_pb2.ClusterLoadAssignment()))


def http_listener(name: str, host: str, port: int, route_name: str) -> Any:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
        ".HttpConnectionManager",
        "stat_prefix": name,
        "rds": {"route_config_name": route_name, "config_source": ADS},
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    spec = {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }
    return pack(json_format.ParseDict(spec, listener_pb2.Listener()))


def direct_response_route(name: str, body: str, *, status: int = 200, path_regex: str | None = None) -> Any:
    """A route table answering every request with `body`; `path_regex` adds a safe_regex match
    (an invalid one makes Envoy NACK the route)."""
    match: dict[str, AnyT] = {"prefix": "/"}
    if path_regex is not None:
        match = {"safe_regex": {"regex": path_regex}}
    spec = {
        "name": name,
        "virtual_hosts": [
            {
                "name": "all",
                "domains": ["*"],
                "routes": [
                    {"match": match, "direct_response": {"status": status, "body": {"inline_string": body}}}
                ],
            }
        ],
    }
    return pack(json_format.ParseDict(spec, route_pb2.RouteConfiguration()))


def validation_secret(name: str, ca_pem: bytes) -> Any:
    spec = {
        "name": name,
        "validation_context": {"trusted_ca": {"inline_bytes": base64.b64encode(ca_pem).decode()}},
    }
    return pack(json_format.ParseDict(spec, secret_pb2.Secret()))


def resource_set(
    clusters: dict[str, Any] | None = None,
    endpoints_: dict[str, Any] | None = None,
    listeners: dict[str, Any] | None = None,
    routes: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """The mapping ResourceCache.set_node_resources takes."""
    out = {CLUSTER: clusters, ENDPOINT: endpoints_, LISTENER: listeners, ROUTE: routes, SECRET: secrets}
    return {url: dict(named) for url, named in out.items() if named is not None}
