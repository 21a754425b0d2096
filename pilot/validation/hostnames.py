"""`namespace/dnsName` host references of Sidecar egress listeners and Gateway servers."""

from __future__ import annotations

from pilot.validation.fields import is_dns1123_label, is_ip, wildcard_domain_error
from pilot.validation.node import Node


def check_namespace_slash_host(node: Node, host: str, *, gateway: bool) -> None:
    namespace, slash, name = host.partition("/")
    if not slash:
        if gateway:  # Gateways still accept a bare host, meaning any namespace.
            _check_host_part(node, host, gateway=True)
        else:
            node.error("host must be of form namespace/dnsName")
        return
    if not namespace or not name:
        node.error("config namespace and dnsName in host entry cannot be empty")
        return
    bare = namespace.removeprefix("~") if not gateway else namespace
    if bare not in ("", "*", ".") and not is_dns1123_label(bare):
        node.error(f"invalid namespace value {namespace!r} in {'gateway' if gateway else 'sidecar'}")
    _check_host_part(node, name, gateway=gateway)


def _check_host_part(node: Node, host: str, *, gateway: bool) -> None:
    if host != "*" and "." not in host:
        node.error("short names (non FQDN) are not allowed")
    problem = wildcard_domain_error(host)
    if problem and not (gateway and is_ip(host)):
        node.error(problem)
    if "*" in host and host != "*" and not host.startswith("*."):
        node.error(f"partial wildcard {host!r} not allowed")
