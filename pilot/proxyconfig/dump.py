"""The config dump shape both sources produce: type URL -> resource name -> the resource as proto JSON.

`/debug/config_dump` serves exactly this; offline translation converts to it (pilot.proxyconfig.offline),
so the tables never see a protobuf.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ConfigDump = Mapping[str, Mapping[str, dict[str, Any]]]

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

# The kinds istioctl proxy-config accepts, singular and plural.
KIND_TYPES = {"cluster": CLUSTER, "listener": LISTENER, "route": ROUTE, "endpoint": ENDPOINT, "secret": SECRET}
KIND_ALIASES = {**{k: k for k in KIND_TYPES}, **{k + "s": k for k in KIND_TYPES}, "all": "all"}


def resources_of(dump: ConfigDump, kind: str) -> list[dict[str, Any]]:
    """The resources of one kind, sorted by name (endpoints: also the inline load assignments of
    STATIC clusters, which Envoy lists among its endpoints too)."""
    by_name = dict(dump.get(KIND_TYPES[kind]) or {})
    if kind == "endpoint":
        for name, cluster in (dump.get(CLUSTER) or {}).items():
            if "loadAssignment" in cluster and name not in by_name:
                by_name[name] = {"clusterName": name, **cluster["loadAssignment"]}
    return [by_name[n] for n in sorted(by_name)]


def istio_config_ref(resource: Mapping[str, Any]) -> str:
    """`NAME.NAMESPACE` of the Istio resource named in `metadata.filterMetadata.istio.config`, which
    istiod stamps on clusters (DestinationRule) and routes (VirtualService) and istioctl shows."""
    path = str(((resource.get("metadata") or {}).get("filterMetadata") or {}).get("istio", {}).get("config", ""))
    parts = path.strip("/").split("/")  # /apis/networking.istio.io/v1/namespaces/NS/KIND/NAME
    if len(parts) >= 7 and parts[3] == "namespaces":
        return f"{parts[6]}.{parts[4]}"
    return ""
