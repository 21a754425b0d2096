"""Port protocols as Istio names them (case-insensitive): https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/"""

from __future__ import annotations

from pilot.validation.fields import is_dns1123_label
from pilot.validation.node import Node

PROTOCOLS = frozenset({"HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "TLS", "MONGO", "REDIS", "MYSQL",
                       "UDP", "HTTP_PROXY", "HBONE"})
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"})
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})


def normalize(protocol: str) -> str:
    return protocol.upper()


def check_protocol(node: Node) -> str | None:
    """The upper-cased protocol, or None when absent (sniffed) or unknown (reported)."""
    protocol = node.text()
    if not protocol:
        return None
    if normalize(protocol) not in PROTOCOLS:
        node.error(f"unsupported protocol: {protocol}")
        return None
    return normalize(protocol)


def check_port_name(node: Node) -> None:
    name = node.text()
    if name and not is_dns1123_label(name):
        node.error(f"invalid port name: {name}")
