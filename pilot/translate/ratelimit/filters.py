"""RateLimitPolicy rules -> Envoy HTTP filters for a sidecar's inbound HTTP connection managers.

A local rule becomes one `envoy.filters.http.local_ratelimit` filter
(https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter):
its own `rate_limits` produce a descriptor `[meshpilot_rule=<id>, <key>=<value>...]` only for requests
the rule matches, and one descriptor whose key entries have an empty value (a wildcard) gives every
distinct value its own token bucket. Requests that match no rule produce no descriptor, and with no
filter-wide bucket they are not limited.

A global rule becomes one `envoy.filters.http.ratelimit` filter asking meshpilot's rate limit service
(https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/rate_limit_filter) with the
same descriptor; the service finds the rule's bucket by the `meshpilot_rule` entry.
"""

from __future__ import annotations

import re

from envoy.config.core.v3 import base_pb2, grpc_service_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from envoy.type.v3 import http_status_pb2, percent_pb2

from pilot.model.ratelimit import RateLimitRule, StringMatch
from pilot.translate.pb import duration, pack, u32

RULE_KEY = "meshpilot_rule"
DOMAIN = "meshpilot"
RLS_CLUSTER = "meshpilot-ratelimit"
# Distinct descriptor values (users, client IPs) each rule tracks; least recently used ones are dropped.
MAX_KEYS = 10_000
RLS_TIMEOUT_S = 2.0


def local_filter(rule: RateLimitRule) -> hcm.HttpFilter:
    cfg = local_rate_limit_pb2.LocalRateLimit(
        stat_prefix=stat_prefix(rule), status=_status(rule.status),
        filter_enabled=_always(), filter_enforced=_always(),
        response_headers_to_add=_headers(rule), rate_limits=[rate_limit_actions(rule)],
        max_dynamic_descriptors=u32(MAX_KEYS))
    cfg.always_consume_default_token_bucket.value = False
    d = cfg.descriptors.add(entries=descriptor_entries(rule))
    d.token_bucket.max_tokens = rule.bucket.max_tokens
    d.token_bucket.tokens_per_fill.value = rule.bucket.tokens
    d.token_bucket.fill_interval.CopyFrom(duration(rule.bucket.fill_seconds))
    return hcm.HttpFilter(name=f"meshpilot.local_ratelimit.{rule.rule_id}", typed_config=pack(cfg))


def global_filter(rule: RateLimitRule) -> hcm.HttpFilter:
    service = grpc_service_pb2.GrpcService(envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
        cluster_name=RLS_CLUSTER), timeout=duration(RLS_TIMEOUT_S))
    cfg = rate_limit_pb2.RateLimit(
        domain=DOMAIN, stat_prefix=stat_prefix(rule), timeout=duration(RLS_TIMEOUT_S),
        # Fail open, Envoy's default: an unreachable service must not take the application down.
        failure_mode_deny=False,
        rate_limit_service={"grpc_service": service, "transport_api_version": 2},  # V3
        rate_limited_status=_status(rule.status), response_headers_to_add=_headers(rule),
        rate_limits=[rate_limit_actions(rule)])
    return hcm.HttpFilter(name=f"meshpilot.ratelimit.{rule.rule_id}", typed_config=pack(cfg))


def rate_limit_actions(rule: RateLimitRule) -> rc.RateLimit:
    first = rc.RateLimit.Action()
    matchers = _matchers(rule)
    if matchers:
        first.header_value_match.descriptor_key = RULE_KEY
        first.header_value_match.descriptor_value = rule.rule_id
        first.header_value_match.expect_match.value = True
        first.header_value_match.headers.extend(matchers)
    else:
        first.generic_key.descriptor_key = RULE_KEY
        first.generic_key.descriptor_value = rule.rule_id
    actions = [first]
    for key in rule.descriptor_keys:
        a = rc.RateLimit.Action()
        if key == "client_ip":
            a.remote_address.SetInParent()
        else:
            a.request_headers.header_name = key.removeprefix("header:")
            a.request_headers.descriptor_key = key
        actions.append(a)
    return rc.RateLimit(actions=actions)


def descriptor_entries(rule: RateLimitRule) -> list[ratelimit_pb2.RateLimitDescriptor.Entry]:
    """The rule entry, then one wildcard entry per key (remote_address is the key Envoy emits)."""
    entries = [ratelimit_pb2.RateLimitDescriptor.Entry(key=RULE_KEY, value=rule.rule_id)]
    entries += [ratelimit_pb2.RateLimitDescriptor.Entry(key="remote_address" if k == "client_ip" else k)
                for k in rule.descriptor_keys]
    return entries


def stat_prefix(rule: RateLimitRule) -> str:
    return "ratelimit_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{rule.policy_namespace}_{rule.policy_name}_{rule.name}")


def _matchers(rule: RateLimitRule) -> list[rc.HeaderMatcher]:
    out = []
    if rule.path is not None:
        out.append(_header_matcher(":path", rule.path))
    if rule.method:
        out.append(_header_matcher(":method", StringMatch("exact", rule.method)))
    out.extend(_header_matcher(name, m) for name, m in rule.headers)
    return out


def _header_matcher(name: str, m: StringMatch) -> rc.HeaderMatcher:
    sm = string_pb2.StringMatcher()
    if m.kind == "regex":
        sm.safe_regex.CopyFrom(regex_pb2.RegexMatcher(regex=m.value))
    else:
        setattr(sm, m.kind, m.value)
    return rc.HeaderMatcher(name=name, string_match=sm)


def _status(code: int) -> http_status_pb2.HttpStatus:
    known = code in http_status_pb2.StatusCode.values()
    return http_status_pb2.HttpStatus(code=code if known else 429)  # type: ignore[arg-type]


def _always() -> base_pb2.RuntimeFractionalPercent:
    # Both default to 0 % for the local filter: without them it would count but never limit.
    return base_pb2.RuntimeFractionalPercent(
        runtime_key="meshpilot_ratelimit", default_value=percent_pb2.FractionalPercent(numerator=100))


def _headers(rule: RateLimitRule) -> list[base_pb2.HeaderValueOption]:
    return [base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v),
                                       append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD)
            for k, v in rule.response_headers]
