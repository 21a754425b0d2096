"""Type URLs served over ADS, their short names, and the order pushes go out in."""

from __future__ import annotations

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

# Make-before-break: clusters and their endpoints exist before listeners and routes point at them
# (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations).
PUSH_ORDER = (CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET)
SHORT = {CLUSTER: "cds", ENDPOINT: "eds", LISTENER: "lds", ROUTE: "rds", SECRET: "sds"}

# Only Listener and Cluster have wildcard subscriptions, and SotW responses for them carry the full
# state (a missing resource is a deletion).
WILDCARD_TYPES = frozenset({CLUSTER, LISTENER})
FULL_STATE_TYPES = WILDCARD_TYPES

WILDCARD = "*"


def short_name(type_url: str) -> str:
    """`cds` for the Cluster type URL; the proto name's last part for types we have no short name for."""
    return SHORT.get(type_url) or type_url.rsplit(".", 1)[-1].lower()


def push_rank(type_url: str) -> int:
    """Sort key that puts known types in PUSH_ORDER and unknown ones after them."""
    try:
        return PUSH_ORDER.index(type_url)
    except ValueError:
        return len(PUSH_ORDER)
