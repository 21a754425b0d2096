"""The Kubernetes kinds meshpilot reads: Service, Pod, EndpointSlice, Namespace, Secret.

Only what the mesh relies on is checked (the API server checks the rest when they come from a
cluster); paths start at the document root (`spec.ports[0].port`, `status.podIP`, `addressType`).
"""

from __future__ import annotations

import base64
import binascii

from pilot.validation.fields import (
    check_enum,
    check_labels,
    check_port,
    fqdn_error,
    ip_error,
    is_dns1123_label,
)
from pilot.validation.node import Node, Report

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")
ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
TLS_SECRET_KEYS = ("tls.crt", "tls.key")


def validate_service(report: Report, spec: Node) -> None:
    kind = check_enum(spec["type"], SERVICE_TYPES)
    check_labels(spec["selector"])
    ports = spec["ports"].items()
    if not ports and kind != "ExternalName" and spec["clusterIP"].value != "None":
        spec["ports"].error("ports are required")
    names: set[str] = set()
    for port in ports:
        check_port(port["port"], required=True)
        name = port["name"].text()
        if name is None or name == "":
            if len(ports) > 1:
                port["name"].error("port name is required when a service has more than one port")
        elif not is_dns1123_label(name):
            port["name"].error(f"invalid port name: {name}")
        elif name in names:
            port["name"].error(f"duplicate port name: {name}")
        names.add(name or "")
        target = port["targetPort"].value
        if isinstance(target, int) and not isinstance(target, bool):
            check_port(port["targetPort"])
        elif isinstance(target, str) and not is_dns1123_label(target.lower()) and not target.isdigit():
            port["targetPort"].error(f"invalid targetPort {target!r}: must be a number or a port name")
        check_enum(port["protocol"], PORT_PROTOCOLS)
    if kind == "ExternalName" and (problem := fqdn_error(spec["externalName"].text() or "", lowercase=True)):
        spec["externalName"].error(problem)


def validate_pod(report: Report, body: Node) -> None:
    status = body["status"]
    ip = status["podIP"].text()
    if ip and (problem := ip_error(ip)):
        status["podIP"].error(problem)
    for entry in status["podIPs"].items():
        ip = entry["ip"].text()
        if ip and (problem := ip_error(ip)):
            entry["ip"].error(problem)


def validate_endpoint_slice(report: Report, body: Node) -> None:
    if not body["addressType"].present:
        body["addressType"].error("addressType is required")
    address_type = check_enum(body["addressType"], ADDRESS_TYPES)
    for endpoint in body["endpoints"].items():
        addresses = endpoint["addresses"].strings()
        if not addresses:
            endpoint["addresses"].error("at least one address is required")
        for item, address in addresses:
            problem = _address_error(address, address_type)
            if problem:
                item.error(problem)
    for port in body["ports"].items():
        if port["port"].present:
            check_port(port["port"])
        check_enum(port["protocol"], PORT_PROTOCOLS)


def _address_error(address: str, address_type: str | None) -> str | None:
    if address_type == "FQDN":
        return fqdn_error(address, lowercase=True)
    if problem := ip_error(address):
        return problem
    if address_type == "IPv4" and ":" in address:
        return f"{address} is not an IPv4 address"
    if address_type == "IPv6" and ":" not in address:
        return f"{address} is not an IPv6 address"
    return None


def validate_namespace(report: Report, body: Node) -> None:
    """Nothing beyond what every kind gets: label syntax (validate_resource) and strict fields."""


def validate_secret(report: Report, body: Node) -> None:
    data, string_data = body["data"], body["stringData"]
    for key, value in data.entries():
        text = value.text()
        if text is None:
            continue
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            data[key].error(f"data value for {key} is not valid base64")
    if body["type"].value == "kubernetes.io/tls":
        present = {k for k, _ in data.entries()} | {k for k, _ in string_data.entries()}
        for key in TLS_SECRET_KEYS:
            if key not in present:
                data.error(f"secret of type kubernetes.io/tls must have {key} in data or stringData")
