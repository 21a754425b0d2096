"""Table tests of the VirtualService pieces: HTTPMatchRequest, retries, fault, CORS, headers, redirect,
mirrors. Expected values follow istiod's translation (route.go, retry.go)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.type.v3 import percent_pb2

from pilot.model.proxy import ProxyView
from pilot.translate.route_actions import headers_operations, mirror_policies, redirect_action
from pilot.translate.route_match import applies_to, is_catch_all, route_match
from pilot.translate.route_policies import cors_config, fault_config, parse_retry_on, retry_policy

MILLION = percent_pb2.FractionalPercent.MILLION
HUNDRED = percent_pb2.FractionalPercent.HUNDRED


def y(text: str) -> Any:
    return yaml.safe_load(text)


# ---- HTTPMatchRequest ---------------------------------------------------------------------------

def test_uri_kinds_and_case() -> None:
    assert route_match(y("{uri: {exact: /a}}")).path == "/a"
    assert route_match(y("{uri: {prefix: /a}}")).prefix == "/a"
    assert route_match(y("{uri: {regex: '/a/[0-9]+'}}")).safe_regex.regex == "/a/[0-9]+"
    assert route_match(None).prefix == "/"
    assert route_match(y("{uri: {exact: /a}, ignoreUriCase: true}")).case_sensitive.value is False
    # Istio always sets case_sensitive, true unless ignoreUriCase.
    m = route_match(y("{uri: {exact: /a}}"))
    assert m.HasField("case_sensitive") and m.case_sensitive.value is True


def _headers(m: rc.RouteMatch) -> dict[str, rc.HeaderMatcher]:
    return {h.name: h for h in m.headers}


def test_method_authority_scheme_are_pseudo_header_matches() -> None:
    m = _headers(route_match(y("{method: {exact: POST}, authority: {prefix: api.}, scheme: {exact: https}}")))
    assert m[":method"].string_match.exact == "POST"
    assert m[":authority"].string_match.prefix == "api."
    assert m[":scheme"].string_match.exact == "https"


@pytest.mark.parametrize("sm, field, value", [
    ("{exact: a}", "exact", "a"), ("{prefix: a}", "prefix", "a"), ("{regex: 'a.*'}", "safe_regex", "a.*")])
def test_header_and_query_string_matches(sm: str, field: str, value: str) -> None:
    m = route_match(y(f"{{headers: {{X-Env: {sm}}}, queryParams: {{q: {sm}}}}}"))
    h = _headers(m)["x-env"]  # header names are matched lower-case
    q = m.query_parameters[0]
    for got in (h.string_match, q.string_match):
        assert (got.safe_regex.regex if field == "safe_regex" else getattr(got, field)) == value
    assert not h.invert_match and not h.treat_missing_header_as_empty


@pytest.mark.parametrize("sm", ["{}", "{regex: '*'}"])
def test_empty_match_or_star_regex_means_present(sm: str) -> None:
    m = route_match(y(f"{{headers: {{x: {sm}}}, queryParams: {{q: {sm}}}}}"))
    assert _headers(m)["x"].present_match is True
    assert m.query_parameters[0].present_match is True


def test_without_headers_inverts_and_treats_missing_as_empty_only_for_values() -> None:
    m = _headers(route_match(y("{withoutHeaders: {x-debug: {}, x-env: {exact: prod}}}")))
    assert m["x-debug"].invert_match and m["x-debug"].present_match
    # present_match + treat_missing_header_as_empty would call a missing header present.
    assert not m["x-debug"].treat_missing_header_as_empty
    assert m["x-env"].invert_match and m["x-env"].treat_missing_header_as_empty


def _view(labels: dict[str, str], namespace: str = "default") -> ProxyView:
    return ProxyView(type="sidecar", ip="127.0.0.9", name="p", namespace=namespace,
                     labels=tuple(sorted(labels.items())))


def test_source_labels_namespace_and_port_are_decided_per_proxy() -> None:
    v2 = _view({"app": "client", "version": "v2"})
    v1 = _view({"app": "client", "version": "v1"}, namespace="other")
    assert applies_to(y("{sourceLabels: {version: v2}}"), v2, 9080)
    assert not applies_to(y("{sourceLabels: {version: v2}}"), v1, 9080)
    assert applies_to(y("{sourceNamespace: other}"), v1, 9080)
    assert not applies_to(y("{sourceNamespace: other}"), v2, 9080)
    assert applies_to(y("{port: 9080}"), v1, 9080)
    assert not applies_to(y("{port: 9090}"), v1, 9080)


@pytest.mark.parametrize("match, catch_all", [
    (None, True), ("{uri: {prefix: /}}", True), ("{uri: {regex: '.*'}}", True),
    ("{uri: {prefix: /a}}", False), ("{uri: {regex: '*'}}", False),
    ("{headers: {x: {exact: a}}}", False), ("{queryParams: {q: {}}}", False),
    ("{sourceLabels: {app: a}}", True),  # decided before Envoy sees the route
])
def test_catch_all_is_judged_on_the_envoy_route(match: str | None, catch_all: bool) -> None:
    r = rc.Route(match=route_match(y(match) if match else None))
    assert is_catch_all(r) is catch_all


# ---- retries ------------------------------------------------------------------------------------

def test_default_retry_policy_is_istios() -> None:
    rp = retry_policy(None)
    assert rp is not None
    assert rp.num_retries.value == 2
    assert rp.retry_on == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    assert list(rp.retriable_status_codes) == [503]
    assert rp.host_selection_retry_max_attempts == 5
    assert [p.name for p in rp.retry_host_predicate] == ["envoy.retry_host_predicates.previous_hosts"]
    # With consistent hashing a retry stays on the hashed host.
    hashed = retry_policy(None, consistent_hash=True)
    assert hashed is not None and not hashed.retry_host_predicate


@pytest.mark.parametrize("retries", ["{attempts: 0}", "{perTryTimeout: 1s}", "{retryOn: 5xx}"])
def test_retries_without_positive_attempts_disable_retrying(retries: str) -> None:
    assert retry_policy(y(retries)) is None


def test_configured_retries() -> None:
    rp = retry_policy(y("{attempts: 4, retryOn: 'gateway-error,503, 429 ,connect-failure', perTryTimeout: 250ms,"
                        " retryIgnorePreviousHosts: false, retryRemoteLocalities: true, backoff: 100ms}"))
    assert rp is not None
    assert rp.num_retries.value == 4
    assert rp.retry_on == "gateway-error,connect-failure,retriable-status-codes"
    assert list(rp.retriable_status_codes) == [503, 429]
    assert rp.per_try_timeout.ToMilliseconds() == 250
    assert not rp.retry_host_predicate
    assert rp.retry_priority.name == "envoy.retry_priorities.previous_priorities"
    assert rp.retry_back_off.base_interval.ToMilliseconds() == 100
    # retryOn without codes keeps no codes; other fields keep Istio's defaults.
    rp = retry_policy(y("{attempts: 1, retryOn: 5xx}"))
    assert rp is not None and rp.retry_on == "5xx" and not rp.retriable_status_codes
    assert rp.retry_host_predicate


def test_retry_on_keeps_numbers_that_are_not_http_codes_as_conditions() -> None:
    assert parse_retry_on("5xx,999,502") == ("5xx,999", [502])


# ---- fault --------------------------------------------------------------------------------------

def test_fault_delay_and_abort_percentages() -> None:
    f = fault_config(y("{delay: {fixedDelay: 2s, percentage: {value: 12.5}},"
                       " abort: {httpStatus: 418, percentage: {value: 50}}}"))
    assert f is not None
    assert f.delay.fixed_delay.seconds == 2
    assert (f.delay.percentage.numerator, f.delay.percentage.denominator) == (125000, MILLION)
    assert f.abort.http_status == 418
    assert (f.abort.percentage.numerator, f.abort.percentage.denominator) == (500000, MILLION)


def test_fault_legacy_percent_and_unset_percentages() -> None:
    f = fault_config(y("{delay: {fixedDelay: 1s, percent: 30}, abort: {httpStatus: 500}}"))
    assert f is not None
    assert (f.delay.percentage.numerator, f.delay.percentage.denominator) == (30, HUNDRED)
    # Like Istio, an abort without percentage carries none (Envoy then aborts nothing).
    assert not f.abort.HasField("percentage")


def test_fault_grpc_status_by_name_and_exponential_delay_dropped() -> None:
    f = fault_config(y("{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}"))
    assert f is not None and f.abort.grpc_status == 14
    assert fault_config(y("{delay: {exponentialDelay: 1s}}")) is None


# ---- CORS ---------------------------------------------------------------------------------------

def test_cors_policy() -> None:
    c = cors_config(y("{allowOrigins: [{exact: 'https://a'}, {regex: 'https://.*\\.b'}], allowMethods: [GET, PUT],"
                      " allowHeaders: [x-a, x-b], exposeHeaders: [x-c], maxAge: 1h, allowCredentials: false}"))
    assert [m.exact or m.safe_regex.regex for m in c.allow_origin_string_match] == ["https://a", r"https://.*\.b"]
    assert (c.allow_methods, c.allow_headers, c.expose_headers, c.max_age) == ("GET,PUT", "x-a,x-b", "x-c", "3600")
    assert c.HasField("allow_credentials") and c.allow_credentials.value is False
    assert c.forward_not_matching_preflights.value is True
    assert c.filter_enabled.default_value.numerator == 100
    assert cors_config(y("{unmatchedPreflights: IGNORE}")).forward_not_matching_preflights.value is False
    legacy = cors_config(y("{allowOrigin: ['https://old']}"))
    assert legacy.allow_origin_string_match[0].exact == "https://old"


# ---- headers ------------------------------------------------------------------------------------

def test_header_operations_set_add_remove_and_authority() -> None:
    ops = headers_operations(y("{request: {set: {x-b: '1', host: h.example}, add: {x-a: '2'}, remove: [x-r, host]},"
                               " response: {set: {x-s: '3'}, remove: [x-t]}}"))
    assert [(h.header.key, h.header.value, h.append_action) for h in ops.request_add] == [
        ("x-b", "1", base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD),
        ("x-a", "2", base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD)]
    assert ops.request_remove == ["x-r"]  # Host cannot be removed
    assert ops.authority == "h.example"
    assert [h.header.key for h in ops.response_add] == ["x-s"]
    assert ops.response_remove == ["x-t"]


# ---- redirect and mirrors -----------------------------------------------------------------------

@pytest.mark.parametrize("redirect, expect", [
    ("{uri: /b}", {"path_redirect": "/b", "response_code": rc.RedirectAction.MOVED_PERMANENTLY}),
    ("{uri: /b, redirectCode: 302}", {"response_code": rc.RedirectAction.FOUND}),
    ("{uri: /b, redirectCode: 307}", {"response_code": rc.RedirectAction.TEMPORARY_REDIRECT}),
    ("{authority: x.example, port: 8443, scheme: https}",
     {"host_redirect": "x.example", "port_redirect": 8443, "scheme_redirect": "https"}),
    ("{derivePort: FROM_REQUEST_PORT}", {"port_redirect": 9080}),
    ("{derivePort: FROM_PROTOCOL_DEFAULT}", {"port_redirect": 0}),
    ("{port: 80}", {"port_redirect": 0}),  # no explicit default port in Location
    ("{port: 443, scheme: https}", {"port_redirect": 0}),
    ("{prefixRewrite: /new, uri: /ignored}", {"prefix_rewrite": "/new", "path_redirect": ""}),
])
def test_redirect(redirect: str, expect: dict[str, Any]) -> None:
    ra = redirect_action(y(redirect), listener_port=9080)
    for field, value in expect.items():
        assert getattr(ra, field) == value, field


def test_mirror_percentages() -> None:
    def fractions(http: str) -> list[tuple[str, int, int]]:
        return [(m.cluster, m.runtime_fraction.default_value.numerator, m.runtime_fraction.default_value.denominator)
                for m in mirror_policies(y(http), lambda d: str(d["host"]))]

    assert fractions("{mirror: {host: a}}") == [("a", 100, HUNDRED)]
    assert fractions("{mirror: {host: a}, mirrorPercentage: {value: 12.5}}") == [("a", 125000, MILLION)]
    assert fractions("{mirror: {host: a}, mirrorPercent: 7}") == [("a", 7, HUNDRED)]
    assert fractions("{mirror: {host: a}, mirrorPercentage: {value: 0}}") == []
    assert fractions("{mirrors: [{destination: {host: a}}, {destination: {host: b}, percentage: {value: 5}},"
                     " {destination: {host: c}, percentage: {value: 0}}]}") == [("a", 100, HUNDRED),
                                                                                ("b", 50000, MILLION)]
    assert all(not m.trace_sampled.value for m in mirror_policies(y("{mirror: {host: a}}"), lambda d: "c"))
