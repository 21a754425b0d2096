"""RateLimitPolicy (policy.meshpilot.io/v1alpha1): meshpilot's own local rate limit API.

Istio has no rate-limit API; users write EnvoyFilters for `envoy.filters.http.local_ratelimit`.
This kind says the same thing in a few lines and compiles to that filter (token bucket per rule,
optionally one bucket per descriptor value):

    spec:
      workloadSelector: {labels: {app: ratings}}   # optional: all workloads of the namespace
      rules:
      - name: per-user                             # optional, unique DNS label
        match:                                     # optional: every request
          path: {prefix: /ratings}                 # exactly one of exact, prefix, regex
          method: GET
          headers: {x-user: {exact: jason}}
        limit: {tokens: 10, fillInterval: 1s, burst: 5}
        descriptors: [{header: x-user}, {clientIp: true}]   # a bucket per distinct value
        response: {status: 429, headers: {x-ratelimited: "true"}}
        global: false                              # true: one bucket shared by every selected sidecar,
                                                   # counted by meshpilot's rate limit service

The bucket holds `tokens + burst` and refills `tokens` per `fillInterval`. docs/ratelimit.md has examples.
Envoy's filter: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter
"""

from __future__ import annotations

from pilot.validation.fields import check_duration, check_header_name, check_workload_labels, is_dns1123_label
from pilot.validation.httppolicies import HTTP_METHODS
from pilot.validation.matchers import check_header_value, check_string_match
from pilot.validation.node import Node, Report

MIN_FILL_SECONDS = 0.05


def validate_rate_limit_policy(report: Report, spec: Node) -> None:
    check_workload_labels(spec["workloadSelector"]["labels"])
    rules = spec["rules"].items()
    if not rules:
        spec["rules"].error("rate limit policy must have at least one rule")
    names: set[str] = set()
    for rule in rules:
        name = rule["name"].text()
        if name is not None:
            if not is_dns1123_label(name):
                rule["name"].error(f"rule name {name!r} must be a DNS-1123 label")
            elif name in names:
                rule["name"].error(f"duplicate rule name {name}")
            names.add(name)
        _check_match(rule["match"])
        _check_limit(rule["limit"])
        for descriptor in rule["descriptors"].items():
            _check_descriptor(descriptor)
        _check_response(rule["response"])
        rule["global"].flag()


def _check_match(match: Node) -> None:
    check_string_match(match["path"])
    method = match["method"].text()
    if method is not None and method not in HTTP_METHODS:
        match["method"].error(f"{method!r} is not a supported HTTP method")
    for name, header in match["headers"].entries():
        check_header_name(header, name)
        check_string_match(header)


def _check_limit(limit: Node) -> None:
    if not limit.present:
        limit.error("limit is required")
        return
    tokens = limit["tokens"].integer()
    if tokens is None:
        if not limit["tokens"].present:
            limit["tokens"].error("tokens is required")
    elif tokens <= 0:
        limit["tokens"].error(f"tokens must be greater than 0, got {tokens}")
    if not limit["fillInterval"].present:
        limit["fillInterval"].error("fillInterval is required")
    fill = check_duration(limit["fillInterval"])
    if fill is not None and 0.001 <= fill < MIN_FILL_SECONDS:
        # Envoy refuses token buckets that refill faster (checked with Envoy 1.40).
        limit["fillInterval"].error("fillInterval must be at least 50ms")
    burst = limit["burst"].integer()
    if burst is not None and burst < 0:
        limit["burst"].error(f"burst must not be negative, got {burst}")


def _check_descriptor(descriptor: Node) -> None:
    keys = descriptor.keys_present("header", "clientIp")
    if len(keys) != 1:
        descriptor.error("descriptor must set exactly one of header or clientIp")
    header = descriptor["header"].text()
    if header is not None:
        check_header_name(descriptor["header"], header)
    if descriptor["clientIp"].flag() is False:
        descriptor["clientIp"].error("clientIp must be true when set")


def _check_response(response: Node) -> None:
    status = response["status"].integer()
    if status is not None and not 400 <= status <= 599:
        response["status"].error(f"status {status} is not in range 400-599")
    for name, value in response["headers"].entries():
        check_header_name(value, name)
        check_header_value(value)
