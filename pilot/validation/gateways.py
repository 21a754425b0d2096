"""References to Gateways (`gateways:` of a VirtualService or of a route match)."""

from __future__ import annotations

from pilot.validation.fields import fqdn_error, is_dns1123_label
from pilot.validation.node import Node

MESH_GATEWAY = "mesh"
"""The reserved name for "every sidecar in the mesh"."""


def check_gateway_names(node: Node) -> None:
    """Each name is `mesh`, `namespace/name`, a name in the VirtualService's namespace, or the legacy
    `name.namespace[.svc.cluster.local]` form (accepted with a warning, as Istio does)."""
    for item, name in node.strings():
        if name == MESH_GATEWAY:
            continue
        namespace, slash, gateway = name.partition("/")
        if not slash:
            if "." in name:
                parts = name.split(".")
                item.warning(f"using legacy gatewayName format {name!r}; prefer the <namespace>/<name> "
                             f"format: \"{parts[1]}/{parts[0]}\"")
            if problem := fqdn_error(name):
                item.error(problem)
            continue
        if not namespace or not gateway:
            item.error("config namespace and gateway name cannot be empty")
            continue
        if not is_dns1123_label(namespace):
            item.error(f"invalid value for namespace: {namespace!r}")
        if not is_dns1123_label(gateway):
            item.error(f"invalid value for gateway name: {gateway!r}")


def binds_to_gateway(gateways: Node) -> bool:
    """Istio treats a VirtualService as gateway-bound when any gateway other than `mesh` is named."""
    names = gateways.value if isinstance(gateways.value, list) else []
    return any(name != MESH_GATEWAY for name in names)
