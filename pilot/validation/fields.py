"""Checks of single values that many kinds share: names, hosts, IPs, ports, enums, durations.

Pure predicates return an error message (or None); `check_*` helpers report into a Node.
Messages follow Istio's `pkg/config/validation` so users can search for them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from pilot.model.durations import parse_duration
from pilot.validation.node import Node

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Labels of host names: Istio's labels.IsDNS1123Label takes letters of either case (`Reviews.Example.COM`
# passes its webhook; DNS names are case-insensitive, RFC 4343). Kubernetes object names stay lowercase.
# https://github.com/istio/istio/blob/master/pkg/config/labels/instance.go
_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$")
# A host's first label may be a wildcard: "*", "*foo" or "*-foo" (Istio's labels.IsWildcardDNS1123Label).
_WILDCARD_LABEL = re.compile(r"^(\*|(\*|\*-)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)$")
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY = re.compile(rf"^(?:{DNS1123_SUBDOMAIN.pattern[1:-1]}/)?({_QUALIFIED_NAME})$")
_LABEL_VALUE = re.compile(rf"^({_QUALIFIED_NAME})?$")
# RFC 7230 token characters: what an HTTP header name may contain.
_HEADER_NAME = re.compile(r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(DNS1123_LABEL.match(value))


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(DNS1123_SUBDOMAIN.match(value))


def is_host_label(value: str) -> bool:
    """One label of an Istio host name: a DNS-1123 label in which upper case is allowed."""
    return len(value) <= 63 and bool(_HOST_LABEL.match(value))


def _labels_error(domain: str, labels: list[str], *, lowercase: bool = False) -> str | None:
    if labels and labels[-1].isdigit():
        return f"domain name {domain!r} invalid (top level domain {labels[-1]!r} cannot be all-numeric)"
    for i, label in enumerate(labels):
        if i == len(labels) - 1 and label == "":
            return None  # a trailing dot, as in "istio.io.", is allowed
        if not (is_dns1123_label(label) if lowercase else is_host_label(label)):
            return f"domain name {domain!r} invalid (label {label!r} invalid)"
    return None


def _precondition_error(domain: str) -> str | None:
    if not domain:
        return "empty domain name not allowed"
    if len(domain) > 255:
        return f"domain name {domain!r} too long (max 255)"
    return None


def fqdn_error(domain: str, *, lowercase: bool = False) -> str | None:
    """An Istio FQDN (letters of either case), or with `lowercase` a Kubernetes DNS-1123 name."""
    return _precondition_error(domain) or _labels_error(domain, domain.split("."), lowercase=lowercase)


def wildcard_domain_error(domain: str) -> str | None:
    """Istio hosts: DNS names whose first label may be a wildcard (`*.example.com`, `*`)."""
    if problem := _precondition_error(domain):
        return problem
    first, _, rest = domain.partition(".")
    if len(first) > 63 or not _WILDCARD_LABEL.match(first):
        return f"domain name {domain!r} invalid (label {first!r} invalid)"
    return _labels_error(domain, rest.split(".")) if rest else None


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def ip_error(value: str) -> str | None:
    return None if is_ip(value) else f"{value} is not a valid IP"


def subnet_error(value: str) -> str | None:
    """An IP or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`)."""
    if value.count("/") == 1:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return f"{value} is not a valid CIDR block"
        return None
    return ip_error(value)


def port_error(port: int) -> str | None:
    return None if 1 <= port <= 65535 else f"port number {port} must be in the range 1..65535"


def hosts_overlap(a: str, b: str) -> bool:
    """Whether one host pattern matches the other (Istio's host.Name.Matches)."""
    if a == b or a == "*" or b == "*":
        return True
    if a.startswith("*") and b.startswith("*"):
        return a[1:].endswith(b[1:]) or b[1:].endswith(a[1:])
    if a.startswith("*"):
        return b.endswith(a[1:])
    if b.startswith("*"):
        return a.endswith(b[1:])
    return False


def host_subset_of(a: str, b: str) -> bool:
    """Whether every name that `a` matches is also matched by `b`."""
    if a == b or b == "*":
        return True
    if b.startswith("*"):
        return a.endswith(b[1:]) and (not a.startswith("*") or len(a) >= len(b))
    return False


def check_port(node: Node, *, required: bool = False, what: str = "port") -> int | None:
    port = node.integer()
    if port is None:
        if required and not node.present:
            node.error(f"{what} is required")
        return None
    if problem := port_error(port):
        node.error(problem)
        return None
    return port


def check_enum(node: Node, allowed: Iterable[str]) -> str | None:
    value = node.text()
    if value is None:
        return None
    choices = tuple(allowed)
    if value not in choices:
        node.error(f"unsupported value {value!r}, must be one of {', '.join(choices)}")
        return None
    return value


# google.protobuf.Duration's range: https://protobuf.dev/reference/protobuf/google.protobuf/#duration
MAX_DURATION_S = 315_576_000_000


def check_duration(node: Node) -> float | None:
    """Istio's rule for duration fields: at least 1ms, at most millisecond precision."""
    if node.value is None:
        return None
    try:
        seconds = parse_duration(node.value)
    except ValueError as problem:
        node.error(str(problem))
        return None
    millis = seconds * 1000
    if seconds > MAX_DURATION_S:
        node.error(f"duration must be at most {MAX_DURATION_S}s (protobuf's limit, about 10,000 years)")
    elif millis < 1 - 1e-9:
        node.error("duration must be greater than 1ms")
    elif abs(millis - round(millis)) > 1e-6:
        node.error("only durations to ms precision are supported")
    return seconds


def check_percent(node: Node) -> None:
    value = node.integer()
    if value is not None and not 0 <= value <= 100:
        node.error(f"percentage {value} is not in range 0..100")


def check_fraction(node: Node) -> None:
    """A `Percent {value: double}` message, as in fault injection."""
    value = node["value"].number()
    if value is not None and (value < 0 or value > 100 or 0 < value < 0.0001):
        node["value"].error(f"percentage {value:g} is neither 0.0, nor in range [0.0001, 100.0]")


def label_problem(key: str, value: object) -> str | None:
    """Why `key: value` is not a valid Kubernetes label, or None."""
    if not _LABEL_KEY.match(key) or len(key.rpartition("/")[2]) > 63:
        return f"invalid tag key: {key!r}"
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        return f"invalid tag value: {value!r}"
    return None


def check_labels(node: Node) -> None:
    """Kubernetes label syntax for keys and values."""
    for key, value_node in node.entries():
        if problem := label_problem(key, value_node.value):
            value_node.error(problem)


def check_workload_labels(node: Node, what: str = "workload selector") -> None:
    """A workload selector's label map: label syntax, no wildcards, and a warning when empty."""
    if not node.present:
        return
    entries = node.entries()
    if not entries and isinstance(node.value, dict):
        node.warning(f"{what} specified without labels, will be applied to all workloads in namespace")
    for key, value_node in entries:
        if not key:
            value_node.error("empty key is not supported in selector")
        elif "*" in key or "*" in str(value_node.value):
            value_node.error(f"wildcard is not supported in selector: \"{key}={value_node.value}\"")
        elif problem := label_problem(key, value_node.value):
            value_node.error(problem)


def check_header_name(node: Node, name: str) -> None:
    if not name:
        node.error("header name cannot be empty")
    elif not name.startswith(":") and not _HEADER_NAME.match(name):
        node.error(f"header name {name[:100]} is not a valid header name")
    elif len(name) > 16384:  # Envoy's HeaderValue.key limit
        node.error(f"header name is {len(name)} characters; at most 16384 are allowed")


def check_export_to(node: Node, namespace: str, *, allow_none: bool = False) -> None:
    seen: set[str] = set()
    for item, value in node.strings():
        key = namespace if value == "." else value
        if key in seen:
            item.error(f"duplicate entries in exportTo for entry {value}")
        seen.add(key)
        if value in (".", "*") or (value == "~" and allow_none):
            continue
        if not is_dns1123_label(value):
            item.error(f"invalid exportTo value {value!r}: must be '.', '*'"
                       f"{', ~' if allow_none else ''} or a namespace name")
    if "*" in seen and len(seen) > 1:
        node.error("cannot have both public (*) and non-public exportTo values for a resource")
