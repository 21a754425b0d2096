"""The sidecar's connection to the control plane: the `xds-grpc` cluster and how the ADS client retries.

Several `pilot serve` replicas on the same config serve the same content-hash versions, so a sidecar may
talk to any of them. The bootstrap lists every replica as an endpoint of one cluster (round robin spreads
the proxies over them) and makes a lost stream come back fast:

- `EnvoyGrpc.retry_policy.retry_back_off`: the xDS client's reconnect backoff (Envoy's default is a
  1 s base with a 10x cap, grpc_service.proto); jittered exponential, so the first retry comes within
  `base` and later ones spread out instead of hammering a control plane that is coming back.
- outlier detection on local-origin errors: a replica that refuses connections is ejected after one
  failure, so the next attempt goes to a live replica instead of a round-robin coin toss
  (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier#detection-types).
- HTTP/2 keepalive pings: a replica that vanished without closing its sockets (host lost, partition) is
  noticed in `interval + timeout`, not after TCP's two hours. The server allows pings every 5 s
  (pilot.xds.server), below the interval here, so it never answers them with GOAWAY too_many_pings.

A replica that is up but not yet synced answers UNAVAILABLE; the client then retries, and round robin
takes it to the next replica.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RETRY_BASE = "0.1s"
RETRY_MAX = "1s"
KEEPALIVE_INTERVAL = "10s"
KEEPALIVE_TIMEOUT = "5s"


def ads_retry_policy() -> dict[str, Any]:
    return {"retry_back_off": {"base_interval": RETRY_BASE, "max_interval": RETRY_MAX}}


def parse_addresses(addresses: str | Sequence[str]) -> list[tuple[str, int]]:
    """`host:port` strings (one, or a list) as (host, port); ValueError names a malformed one."""
    items = [addresses] if isinstance(addresses, str) else list(addresses)
    if not items:
        raise ValueError("at least one --xds-address is needed")
    out = []
    for item in items:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--xds-address {item!r} is not HOST:PORT")
        out.append((host.strip("[]"), int(port)))
    return out


def xds_cluster(addresses: Sequence[tuple[str, int]]) -> dict[str, Any]:
    endpoints = [{"endpoint": {"address": {"socket_address": {"address": h, "port_value": p}}}}
                 for h, p in addresses]
    cluster: dict[str, Any] = {
        "name": "xds-grpc",
        "type": "STATIC",
        "connect_timeout": "1s",
        # Without HTTP/2 on the xDS cluster Envoy hangs silently in cm init.
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {"connection_keepalive": {
                    "interval": KEEPALIVE_INTERVAL, "timeout": KEEPALIVE_TIMEOUT}}},
            }},
        "load_assignment": {"cluster_name": "xds-grpc", "endpoints": [{"lb_endpoints": endpoints}]},
    }
    if len(addresses) > 1:
        cluster["outlier_detection"] = {
            "split_external_local_origin_errors": True,
            "consecutive_local_origin_failure": 1,
            "interval": "1s",
            "base_ejection_time": "5s",
            # With two replicas one ejected host is already 50 %; never eject them all.
            "max_ejection_percent": 50,
        }
    return cluster
