"""ServiceEntry and WorkloadEntry: services and workloads added to the registry by hand
(https://istio.io/latest/docs/reference/config/networking/service-entry/)."""

from __future__ import annotations

from pilot.validation.fields import (
    check_enum,
    check_export_to,
    check_labels,
    check_port,
    check_workload_labels,
    fqdn_error,
    is_host_label,
    is_ip,
    subnet_error,
    wildcard_domain_error,
)
from pilot.validation.node import Node, Report
from pilot.validation.protocols import HTTP_PROTOCOLS, TLS_PROTOCOLS, check_port_name, check_protocol

RESOLUTIONS = ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")
LOCATIONS = ("MESH_EXTERNAL", "MESH_INTERNAL")
UNIX_PREFIX = "unix://"


def validate_service_entry(report: Report, spec: Node) -> None:
    resolution = check_enum(spec["resolution"], RESOLUTIONS) or "NONE"
    check_enum(spec["location"], LOCATIONS)
    check_workload_labels(spec["workloadSelector"]["labels"])
    if spec.has("workloadSelector") and spec.has("endpoints"):
        spec.error("only one of WorkloadSelector or Endpoints is allowed in Service Entry")
    hosts = spec["hosts"].strings()
    if not hosts:
        spec["hosts"].error("service entry must have at least one host")
    valid_hosts = []
    for item, host in hosts:
        if host == "*":
            item.error(f"invalid host {host}")
        elif problem := wildcard_domain_error(host):
            item.error(problem)
        else:
            valid_hosts.append(host)
            if "*" in host and not host.startswith("*."):
                item.warning(f"partial wildcard {host!r} not allowed")
    has_cidr = False
    for item, address in spec["addresses"].strings():
        has_cidr = has_cidr or "/" in address
        if problem := subnet_error(address):
            item.error(problem)
    if has_cidr and resolution not in ("NONE", "STATIC"):
        spec["addresses"].error("CIDR addresses are allowed only for NONE/STATIC resolution types")
    port_names, protocols = _check_ports(spec["ports"])
    _check_endpoints(spec, resolution, port_names, valid_hosts)
    # Plain TCP cannot tell hosts apart (HTTP has the authority, TLS the SNI), unless the hosts are ignored.
    opaque = [p for p in protocols if p not in HTTP_PROTOCOLS | TLS_PROTOCOLS]
    if resolution != "NONE" and len(hosts) > 1 and opaque:
        spec["hosts"].error("multiple hosts provided with non-HTTP, non-TLS ports")
    check_export_to(spec["exportTo"], report.resource.namespace, allow_none=True)


def _check_ports(ports: Node) -> tuple[set[str], list[str]]:
    names: set[str] = set()
    numbers: set[int] = set()
    protocols = []
    for port in ports.items():
        name = port["name"].text()
        if not name:
            port["name"].error("port name is required")
        elif name in names:
            port["name"].error(f"service entry port name {name!r} already defined")
        check_port_name(port["name"])
        names.add(name or "")
        number = check_port(port["number"], required=True, what="port number")
        if number is not None:
            if number in numbers:
                port["number"].error(f"service entry port {number} already defined")
            numbers.add(number)
        if port["targetPort"].present:
            check_port(port["targetPort"])
        protocols.append(check_protocol(port["protocol"]) or "TCP")
    return names, protocols


def _check_endpoints(spec: Node, resolution: str, port_names: set[str], hosts: list[str]) -> None:
    endpoints = spec["endpoints"].items()
    if resolution == "NONE" and endpoints:
        spec["endpoints"].error("no endpoints should be provided for resolution type none")
    if resolution == "STATIC" and not endpoints and not spec.has("workloadSelector"):
        spec["endpoints"].error("endpoints or a workloadSelector are required for resolution type STATIC")
    if resolution in ("DNS", "DNS_ROUND_ROBIN") and not endpoints:
        for host in hosts:
            if problem := fqdn_error(host):
                spec["hosts"].error("hosts must be FQDN or contain only prefix wildcards if no endpoints are "
                                    f"provided for resolution mode {resolution}, {problem}")
                break
    if resolution == "DNS_ROUND_ROBIN" and len(endpoints) > 1:
        spec["endpoints"].error(f"there must only be 0 or 1 endpoint for resolution mode {resolution}")
    if resolution == "DYNAMIC_DNS":
        if any(not h.startswith("*") for h in hosts):
            spec["hosts"].error(f"host must be wildcarded for resolution mode {resolution}")
        if endpoints:
            spec["endpoints"].error(f"endpoints cannot be set for resolution type {resolution}")
    for endpoint in endpoints:
        check_workload_address(endpoint, allow_fqdn=resolution != "STATIC", port_names=port_names)


def check_workload_address(entry: Node, *, allow_fqdn: bool, port_names: set[str] | None) -> None:
    """A WorkloadEntry, or one ServiceEntry endpoint: address, ports, labels."""
    address = entry["address"].text()
    if not address:
        if not entry["network"].text():
            entry["address"].error("address is required")
    elif address.startswith(UNIX_PREFIX):
        path = address[len(UNIX_PREFIX):]
        if not (path.startswith("/") or path.startswith("@")) or path.endswith("/"):
            entry["address"].error(f"{path} is not an absolute path to a file")
        if entry.has("ports"):
            entry["ports"].error(f"unix endpoint {address} must not include ports")
    elif not is_ip(address):
        if not allow_fqdn:
            entry["address"].error(f"endpoint address {address!r} is not a valid IP address")
        elif fqdn_error(address):
            entry["address"].error(f"endpoint address {address!r} is not a valid FQDN or an IP address")
    for name, port in entry["ports"].entries():
        if port_names is not None and name not in port_names:
            port.error(f"endpoint port {port.value} is not defined by the service entry")
        if not is_host_label(name):  # Istio's ValidatePortName (a DNS-1123 label, either case)
            port.error(f"invalid port name: {name}")
        check_port(port)
    check_labels(entry["labels"])
    weight = entry["weight"].integer()
    if weight is not None and weight < 0:
        entry["weight"].error(f"weight {weight} < 0")


def validate_workload_entry(report: Report, spec: Node) -> None:
    check_workload_address(spec, allow_fqdn=True, port_names=None)
