"""String matches, RE2 regexes and header manipulation: shared by VirtualService, RateLimitPolicy
and anything else that matches HTTP requests."""

from __future__ import annotations

import re2

from pilot.validation.fields import check_header_name
from pilot.validation.node import Node

MAX_REGEX_LENGTH = 1024
"""Envoy refuses RE2 programs over its max program size; Istio approximates that by length."""

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the message goes into the finding, not to stderr
_MATCH_TYPES = ("exact", "prefix", "regex")


def regex_error(pattern: str) -> str | None:
    """Why Envoy's RE2 would refuse `pattern`, or None. Envoy uses RE2, not Python's re:
    https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/matcher/v3/regex.proto"""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"regex is too large, max length allowed is {MAX_REGEX_LENGTH}"
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as problem:
        detail = problem.args[0] if problem.args else problem
        text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        return f"{text}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
    return None


def check_regex(node: Node) -> None:
    pattern = node.text()
    if pattern is None:
        return
    if not pattern:
        node.error("regex string match should not be empty")
    elif problem := regex_error(pattern):
        node.error(problem)


def check_string_match(node: Node, *, allow_empty: bool = False) -> None:
    """An Istio StringMatch: exactly one of exact, prefix, regex."""
    if not node.present:
        return
    kinds = node.keys_present(*_MATCH_TYPES)
    if len(kinds) > 1:
        node.error(f"only one of exact, prefix or regex may be set, found {', '.join(kinds)}")
    elif not kinds and not allow_empty:
        node.error("one of exact, prefix or regex must be set")
    node["exact"].text()
    prefix = node["prefix"].text()
    if prefix == "":
        node["prefix"].error("prefix string match should not be empty")
    check_regex(node["regex"])


# Envoy's HeaderValue: at most 16 KiB, and no NUL, CR or LF (neither in prefix/host rewrites); Istio
# refuses every control character but tab. https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/base.proto#config-core-v3-headervalue
MAX_HEADER_BYTES = 16384


def check_header_value(node: Node, what: str = "header value") -> None:
    """A string Envoy puts into a header or request line: header values, rewrites, redirects."""
    value = node.text()
    if value is None:
        return
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        node.error(f"{what} configuration {value[:100]!r} is invalid")
    elif len(value.encode()) > MAX_HEADER_BYTES:
        node.error(f"{what} is {len(value.encode())} bytes; at most {MAX_HEADER_BYTES} are allowed")


def _is_pseudo(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def _pseudo_header_error(name: str) -> str:
    if name.startswith(":"):
        return f"invalid header {name!r}: header cannot have \":\" prefix"
    return f"invalid header {name!r}: cannot set Host header"


def check_header_operations(node: Node) -> None:
    """`headers: {request|response: {set, add, remove}}` of a route or destination."""
    for side in ("request", "response"):
        ops = node[side]
        for op in ("set", "add"):
            for name, value in ops[op].entries():
                check_header_name(value, name)
                lowered = name.lower()
                # The request's authority may be rewritten (Envoy turns it into host_rewrite); nothing
                # else that starts with ":" may be touched, and never on a response.
                if _is_pseudo(name) and (side == "response" or lowered not in (":authority", "host")):
                    value.error(_pseudo_header_error(name))
                check_header_value(value)
        for item, name in ops["remove"].strings():
            check_header_name(item, name)
            if _is_pseudo(name):
                item.error(_pseudo_header_error(name))


def authority_rewrites(route: Node) -> list[str]:
    """Every way a route sets the request authority: rewrite.authority and :authority/host headers."""
    found = []
    if isinstance(authority := route["rewrite"]["authority"].value, str) and authority:
        found.append(authority)
    request = route["headers"]["request"]
    for op in ("set", "add"):
        value = request[op].value
        if isinstance(value, dict):
            found += [str(v) for k, v in value.items() if str(k).lower() in (":authority", "host")]
    return found
