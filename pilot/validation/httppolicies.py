"""Per-route HTTP policies of a VirtualService: retries, fault injection, CORS, redirect, direct
response, rewrite and mirroring. Rules follow Istio's validation of the same fields
(https://istio.io/latest/docs/reference/config/networking/virtual-service/)."""

from __future__ import annotations

from pilot.validation.destinations import check_destination
from pilot.validation.fields import (
    check_duration,
    check_fraction,
    check_header_name,
    check_percent,
    check_port,
)
from pilot.validation.matchers import check_header_value, check_regex, check_string_match
from pilot.validation.node import Node

# Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies:
# https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
RETRY_ON = frozenset({
    "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
    "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
    "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted",
    "unavailable",
})
GRPC_STATUSES = frozenset({
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
})
_MATCH_TYPES = ("exact", "prefix", "regex")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"})
_KB = 1024
_MB = 1024 * _KB


def check_http_status(node: Node, *, required: bool = False) -> None:
    status = node.integer()
    if status is None:
        if required and not node.present:
            node.error("status is required")
    elif not 200 <= status <= 599:
        node.error(f"HTTP status {status} is not in range 200-599")


def check_retries(node: Node) -> None:
    if not node.present:
        return
    attempts = node["attempts"].integer()
    if attempts is not None and attempts < 0:
        node["attempts"].error("attempts cannot be negative")
    if (attempts or 0) == 0 and node.keys_present("perTryTimeout", "retryOn", "retryRemoteLocalities"):
        node.error("http retry policy configured when attempts are set to 0 (disabled)")
    check_duration(node["perTryTimeout"])
    check_duration(node["backoff"])
    retry_on = node["retryOn"].text()
    for policy in (retry_on.split(",") if retry_on else []):
        is_status = policy.isdigit() and 100 <= int(policy) <= 599
        if not is_status and policy not in RETRY_ON:
            node["retryOn"].error(f"{policy!r} is not a valid retryOn policy")


def check_fault(node: Node) -> None:
    if not node.present:
        return
    abort, delay = node["abort"], node["delay"]
    if not abort.present and not delay.present:
        node.error("HTTP fault injection must have an abort and/or a delay")
    if abort.present:
        check_fraction(abort["percentage"])
        if abort.has("http2Error"):
            abort["http2Error"].error("HTTP/2 abort fault injection not supported yet")
        elif abort.has("grpcStatus"):
            status = abort["grpcStatus"].text()
            if status is not None and status not in GRPC_STATUSES:
                abort["grpcStatus"].error(f"gRPC status {status!r} is not supported, e.g. use 'NOT_FOUND'")
        elif abort.has("httpStatus"):
            check_http_status(abort["httpStatus"])
        else:
            abort.warning("abort configured, but error type not set")
    if delay.present:
        check_fraction(delay["percentage"])
        check_percent(delay["percent"])
        if delay.has("exponentialDelay"):
            check_duration(delay["exponentialDelay"])
            delay["exponentialDelay"].error("exponentialDelay not supported yet")
        elif delay.has("fixedDelay"):
            check_duration(delay["fixedDelay"])
        else:
            delay.error("delay must specify fixedDelay")


def check_cors(node: Node) -> None:
    if not node.present:
        return
    for origin in node["allowOrigins"].items():
        if not any(isinstance(origin[k].value, str) and origin[k].value for k in _MATCH_TYPES):
            origin.error("'' is not a valid match type for CORS allow origins")
        check_string_match(origin)
    for item, method in node["allowMethods"].strings():
        if method not in HTTP_METHODS:
            item.error(f"{method!r} is not a supported HTTP method")
    for field in ("allowHeaders", "exposeHeaders"):
        for item, name in node[field].strings():
            if name != "*":
                check_header_name(item, name)
    seconds = check_duration(node["maxAge"])
    if seconds is not None and seconds != int(seconds):
        node["maxAge"].error("max_age duration is accurate only to seconds precision")
    node["allowCredentials"].flag()


def check_redirect(node: Node, matches: Node) -> None:
    if not node.present:
        return
    uri, prefix = node["uri"].text(), node["prefixRewrite"].text()
    if uri and prefix:
        node.error("redirect may only specify one of uri or prefix_rewrite")
    if prefix:
        for match in matches.items():
            if match["uri"].present and not match["uri"].has("prefix"):
                node["prefixRewrite"].error(
                    "redirect prefix_rewrite requires all URI matches to use prefix match type")
                break
    if not uri and not prefix and not node.keys_present("authority", "scheme", "port", "derivePort"):
        node.error("redirect must specify URI, authority, scheme, or port")
    if node.has("port") and node.has("derivePort"):
        node.error("redirect may only specify one of port or derivePort")
    for field in ("uri", "prefixRewrite", "authority"):
        check_header_value(node[field], f"redirect {field}")
    code = node["redirectCode"].integer()
    if code is not None and code != 0 and not 300 <= code <= 399:
        node["redirectCode"].error(f"{code} is not a valid redirect code, must be 3xx")
    scheme = node["scheme"].text()
    if scheme and scheme not in ("http", "https"):
        node["scheme"].error('invalid redirect scheme, must be "http" or "https"')
    if node.has("port"):
        check_port(node["port"])


def check_direct_response(node: Node) -> None:
    if not node.present:
        return
    check_http_status(node["status"], required=True)
    body = node["body"]
    if body.has("string") and body.has("bytes"):
        body.error("only one of string or bytes may be set")
    size = max(len(str(body["string"].value or "")), len(str(body["bytes"].value or "")))
    if size > _MB:
        body.error("large direct_responses may impact control plane performance, must be less than 1MB")
    elif size > 100 * _KB:
        body.warning("large direct_responses may impact control plane performance")


def check_rewrite(node: Node) -> None:
    if not node.present:
        return
    regex_rewrite = node["uriRegexRewrite"]
    if node.has("uri") and regex_rewrite.present:
        node.error("rewrite may only contain one of URI or UriRegexRewrite")
    if not node.keys_present("uri", "uriRegexRewrite", "authority"):
        node.error("rewrite must specify at least one of URI, UriRegexRewrite, or authority")
    for field in ("uri", "authority"):
        check_header_value(node[field], f"rewrite {field}")
    check_header_value(regex_rewrite["rewrite"], "rewrite uriRegexRewrite.rewrite")
    if regex_rewrite.present:
        if not regex_rewrite.has("match") or not regex_rewrite.has("rewrite"):
            regex_rewrite.error("UriRegexRewrite requires both Rewrite and Match fields to be specified")
        check_regex(regex_rewrite["match"])


def check_mirrors(route: Node) -> None:
    if route.has("mirror") and route.has("mirrors"):
        route.error("HTTP route cannot contain both mirror and mirrors")
    check_destination(route["mirror"], what="mirror")
    _check_mirror_percentage(route["mirrorPercentage"]["value"])
    legacy = route["mirrorPercent"].integer()
    if legacy is not None:
        if legacy > 100:
            route["mirrorPercent"].error(f"mirror_percent must have a max value of 100 (it has {legacy})")
        route["mirrorPercent"].warning(
            'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead')
    for mirror in route["mirrors"].items():
        if not mirror.has("destination"):
            mirror["destination"].error("destination is required for mirrors")
            continue
        check_destination(mirror["destination"], what="mirror")
        _check_mirror_percentage(mirror["percentage"]["value"])


def _check_mirror_percentage(node: Node) -> None:
    value = node.number()
    if value is not None and not 0 <= value <= 100:
        node.error(f"mirror percentage must be in range 0..100 (it has {value:g})")
