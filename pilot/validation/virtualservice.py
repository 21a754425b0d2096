"""VirtualService: hosts, gateways and its http/tls/tcp routes
(https://istio.io/latest/docs/reference/config/networking/virtual-service/)."""

from __future__ import annotations

from pilot.model.jwt_claims import is_claim_key
from pilot.validation.destinations import check_weighted_destinations
from pilot.validation.fields import (
    check_export_to,
    check_labels,
    check_port,
    host_subset_of,
    hosts_overlap,
    is_ip,
    subnet_error,
    wildcard_domain_error,
)
from pilot.validation.gateways import binds_to_gateway, check_gateway_names
from pilot.validation.httproute import check_http_route
from pilot.validation.node import Node, Report


def validate_virtual_service(report: Report, spec: Node) -> None:
    hosts = spec["hosts"].strings()
    gateway_bound = binds_to_gateway(spec["gateways"])
    if not hosts:
        # Without hosts this is a delegate, only reachable from another VirtualService's http route.
        for field, what in (("gateways", "gateways"), ("tls", "tls route"), ("tcp", "tcp route")):
            if spec[field].items():
                spec[field].error(f"delegate virtual service must have no {what} specified")
    check_gateway_names(spec["gateways"])
    _check_hosts(hosts, mesh_bound=not gateway_bound)
    if not any(spec[field].items() for field in ("http", "tcp", "tls")):
        spec.error("http, tcp or tls must be provided in virtual service")
    for route in spec["http"].items():
        check_http_route(route, in_delegate=not hosts)
    if not gateway_bound:
        _check_claim_routing_needs_gateway(spec)
    host_names = [h for _, h in hosts]
    for route in spec["tls"].items():
        _check_tls_route(route, host_names)
    for route in spec["tcp"].items():
        _check_tcp_route(route)
    check_export_to(spec["exportTo"], report.resource.namespace)


def _check_claim_routing_needs_gateway(spec: Node) -> None:
    """Istio rejects claim routing without a gateway: only gateways validate the JWT before routing."""
    names = spec["gateways"].value if isinstance(spec["gateways"].value, list) else []
    # Wrong types were reported by the route checks; only well-formed maps are looked at here.
    routes = spec["http"].items() if isinstance(spec["http"].value, list) else []
    for route in routes:
        if not isinstance(route.value, dict) or not isinstance(route.value.get("match"), list):
            continue
        for match in route["match"].items():
            for field in ("headers", "withoutHeaders"):
                if not isinstance(match.value, dict) or not isinstance(match.value.get(field), dict):
                    continue
                for key, node in match[field].entries():
                    if is_claim_key(key):
                        node.error(f"JWT claim based routing (key: {key}) is only supported for gateway, "
                                   f"found no gateways: {names}")


def _check_hosts(hosts: list[tuple[Node, str]], *, mesh_bound: bool) -> None:
    valid = True
    for node, host in hosts:
        problem = wildcard_domain_error(host)
        if problem and not is_ip(host):
            node.error(problem)
            valid = False
        elif mesh_bound and host == "*":
            node.error("wildcard host * is not allowed for virtual services bound to the mesh gateway")
            valid = False
    if not valid:
        return
    for i, (_, first) in enumerate(hosts):
        for node, second in hosts[i + 1:]:
            if hosts_overlap(first, second):
                node.error(f"duplicate hosts in virtual service: {first} & {second}")


def _check_l4_match(match: Node) -> None:
    for item, subnet in match["destinationSubnets"].strings():
        if problem := subnet_error(subnet):
            item.error(problem)
    if match["port"].integer():
        check_port(match["port"])
    check_labels(match["sourceLabels"])
    check_gateway_names(match["gateways"])


def _check_tls_route(route: Node, vs_hosts: list[str]) -> None:
    matches = route["match"].items()
    if not matches:
        route["match"].error("TLS route must have at least one match condition")
    for match in matches:
        sni_hosts = match["sniHosts"].strings()
        if not sni_hosts:
            match["sniHosts"].error("TLS match must have at least one SNI host")
        for item, sni in sni_hosts:
            _check_sni_host(item, sni, vs_hosts)
        _check_l4_match(match)
    if not route["route"].items():
        route["route"].error("TLS route is required")
    check_weighted_destinations(route["route"], http=False)


def _check_sni_host(node: Node, sni: str, vs_hosts: list[str]) -> None:
    if problem := wildcard_domain_error(sni):
        if is_ip(sni):
            node.warning(f"using an IP address ({sni!r}) goes against SNI spec and most clients do not "
                         "support this")
        else:
            node.error(problem)
        return
    if not any(host_subset_of(sni, host) for host in vs_hosts):
        node.error(f"SNI host {sni!r} is not a compatible subset of any of the virtual service hosts: "
                   f"[{', '.join(vs_hosts)}]")


def _check_tcp_route(route: Node) -> None:
    for match in route["match"].items():
        _check_l4_match(match)
    if not route["route"].items():
        route["route"].error("TCP route is required")
    check_weighted_destinations(route["route"], http=False)
