"""One `http:` route of a VirtualService: what it does (route, redirect, direct response or
delegate), what it matches, and its policies."""

from __future__ import annotations

from pilot.model.jwt_claims import is_claim_key
from pilot.validation.destinations import check_weighted_destinations
from pilot.validation.fields import (
    check_duration,
    check_header_name,
    check_labels,
    check_port,
    is_dns1123_label,
)
from pilot.validation.gateways import check_gateway_names
from pilot.validation.httppolicies import (
    check_cors,
    check_direct_response,
    check_fault,
    check_mirrors,
    check_redirect,
    check_retries,
    check_rewrite,
)
from pilot.validation.matchers import authority_rewrites, check_header_operations, check_string_match
from pilot.validation.node import Node


def check_http_route(route: Node, *, in_delegate: bool) -> None:
    if not isinstance(route.value, dict):
        route.error("http route may not be null" if route.value is None else "must be an object")
        return
    _check_action(route, in_delegate=in_delegate)
    for match in route["match"].items():
        _check_match(match)
    check_header_operations(route["headers"])
    check_cors(route["corsPolicy"])
    check_fault(route["fault"])
    check_mirrors(route)
    check_redirect(route["redirect"], route["match"])
    check_direct_response(route["directResponse"])
    check_retries(route["retries"])
    check_rewrite(route["rewrite"])
    authorities = authority_rewrites(route)
    if len(authorities) > 1:
        route.error(f"authority header cannot be set multiple times: have {authorities[0]!r}, "
                    f"attempting to set {authorities[1]!r}")
    check_weighted_destinations(route["route"], http=True)
    check_duration(route["timeout"])
    route["name"].text()


def _check_action(route: Node, *, in_delegate: bool) -> None:
    """Exactly one of route, redirect, directResponse or delegate says what the route does."""
    has = set(route.keys_present("route", "redirect", "directResponse", "delegate", "fault", "rewrite"))
    if isinstance(route["route"].value, list) and not route["route"].value:
        has.discard("route")
    if "delegate" in has:
        if in_delegate:
            route["delegate"].error("delegate HTTP route cannot contain delegate")
        label = f"root HTTP route {route['name'].value}" if route.has("name") else "root HTTP route"
        for other in ("redirect", "route"):
            if other in has:
                route.error(f"{label} must not specify {other}")
        if not route["delegate"]["name"].text():
            route["delegate"]["name"].error("delegate name is required")
        return
    if "redirect" in has:
        for other, text in (("route", "HTTP route cannot contain both route and redirect"),
                            ("fault", "HTTP route cannot contain both fault and redirect"),
                            ("rewrite", "HTTP route rule cannot contain both rewrite and redirect"),
                            ("directResponse",
                             "HTTP route rule cannot contain both direct_response and redirect")):
            if other in has:
                route.error(text)
    elif "directResponse" in has:
        for other, text in (("route", "HTTP route cannot contain both route and direct_response"),
                            ("fault", "HTTP route cannot contain both fault and direct_response"),
                            ("rewrite", "HTTP route rule cannot contain both rewrite and direct_response")):
            if other in has:
                route.error(text)
    elif "route" not in has:
        route.error("HTTP route, redirect or direct_response is required")


def _check_match(match: Node) -> None:
    if not isinstance(match.value, dict):
        if match.value is not None:
            match.error("must be an object")
        return
    for field in ("uri", "scheme", "method", "authority"):
        check_string_match(match[field])
    for field in ("headers", "withoutHeaders"):
        for name, header in match[field].entries():
            _check_match_header_name(header, name)
            check_string_match(header, allow_empty=True)
    for name, param in match["queryParams"].entries():
        if not name:  # Envoy's QueryParameterMatcher.name has min_len 1
            param.error("query parameter name must not be empty")
        check_string_match(param, allow_empty=True)
    port = match["port"].integer()
    if port:  # 0 means "any port"
        check_port(match["port"])
    check_labels(match["sourceLabels"])
    check_gateway_names(match["gateways"])
    namespace = match["sourceNamespace"].text()
    if namespace and not is_dns1123_label(namespace):
        match["sourceNamespace"].error(f"sourceNamespace match {namespace} is invalid")
    match["ignoreUriCase"].flag()


def _check_match_header_name(node: Node, name: str) -> None:
    if is_claim_key(name):
        return  # routing on a JWT claim, e.g. "@request.auth.claims.groups" or "@request.auth.claims[groups]"
    check_header_name(node, name)
    if name != name.lower():
        # Envoy compares header names lowercased; Istio's docs require lowercase keys.
        node.warning(f"header name {name} should be lowercase, like {name.lower()}")
