"""Route destinations (`destination: {host, subset, port}`) with weights, for VirtualService routes."""

from __future__ import annotations

from pilot.validation.fields import check_port, is_dns1123_label, wildcard_domain_error
from pilot.validation.matchers import check_header_operations
from pilot.validation.node import Node

MAX_TOTAL_WEIGHT = 2**32 - 1


def check_destination(node: Node, *, what: str = "destination") -> None:
    if not node.present:
        return
    host = node["host"].text()
    if not host:
        if not node["host"].present or host == "":
            node["host"].error(f"{what} host is required")
    elif host == "*":
        node["host"].error(f"invalid destination host {host}")
    elif problem := wildcard_domain_error(host):
        node["host"].error(problem)
    subset = node["subset"].text()
    if subset is not None:
        check_subset_name(node["subset"], subset)
    if node["port"].present:
        check_port(node["port"]["number"], required=True, what="port number")


def check_subset_name(node: Node, name: str) -> None:
    if not name:
        node.error("subset name cannot be empty")
    elif not is_dns1123_label(name):
        node.error(f"subset name is invalid: {name}")


def check_weighted_destinations(routes: Node, *, http: bool) -> None:
    """`route: [{destination, weight, headers}]`: weights are >= 0 and not all 0 when split."""
    items = routes.items()
    total = 0
    for item in items:
        if not item.has("destination"):
            item["destination"].error("destination is required")
        check_destination(item["destination"])
        weight = item["weight"].integer()
        if weight is not None:
            # Istio accepts any non-negative weights and Envoy splits by their proportion.
            if weight < 0:
                item["weight"].error(f"weight {weight} < 0")
            else:
                total += weight
        if http:
            check_header_operations(item["headers"])
    if len(items) > 1 and total == 0:
        routes.error("total destination weight = 0")
    elif total > MAX_TOTAL_WEIGHT:
        # Envoy adds the weights of a weighted_clusters route in a uint32 and refuses the route otherwise.
        routes.error(f"total destination weight {total} exceeds {MAX_TOTAL_WEIGHT}")
