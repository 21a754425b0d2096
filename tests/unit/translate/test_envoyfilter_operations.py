"""Every applyTo x operation of the EnvoyFilter patch engine, on generated config (no Envoy needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pilot.translate.generate import CLUSTER, LISTENER, ROUTE
from tests.unit.translate.envoyfilter_kit import (
    INBOUND,
    OUTBOUND,
    REVIEWS_VHOST,
    cluster,
    envoy_filter,
    hcm_match,
    http_filters,
    listener,
    local_ratelimit,
    manager,
    route_config,
    run,
)

DEFAULT_HTTP = ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]
LRL = "envoy.filters.http.local_ratelimit"
OUT_ROUTES = {"context": "SIDECAR_OUTBOUND", "routeConfiguration": {"vhost": {"name": REVIEWS_VHOST}}}
NEW_LISTENER = {"name": "extra_9999", "address": {"socket_address": {"address": "127.40.1.10",
                                                                    "port_value": 9999}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                    "stat_prefix": "x", "cluster": "inbound|9080||"}}]}]}
TCP_PROXY = NEW_LISTENER["filter_chains"][0]["filters"][0]  # type: ignore[index]
ROUTE_TO_REVIEWS = {"name": "extra", "match": {"prefix": "/extra"},
                    "route": {"cluster": "outbound|9080||reviews.default.svc.cluster.local"}}
NEW_CLUSTER = {"name": "meshpilot-extra", "type": "STATIC", "connect_timeout": "1s",
               "load_assignment": {"cluster_name": "meshpilot-extra", "endpoints": [{"lb_endpoints": [
                   {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 1}}}}]}]}}
REVIEWS = "outbound|9080||reviews.default.svc.cluster.local"

# A check of the patched output, or the finding code expected when the patch must be left out.
Check = Callable[[Any], object] | str
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, Check]] = [
    # -- LISTENER
    ("LISTENER", "ADD", {"context": "SIDECAR_OUTBOUND"}, NEW_LISTENER,
     lambda out: listener(out, "extra_9999")),
    ("LISTENER", "REMOVE", {"context": "SIDECAR_OUTBOUND"}, None,
     lambda out: _eq(set(out[LISTENER]), {INBOUND})),
    ("LISTENER", "MERGE", {"listener": {"name": INBOUND}}, {"per_connection_buffer_limit_bytes": 1024},
     lambda out: _eq(listener(out, INBOUND).per_connection_buffer_limit_bytes.value, 1024)),
    ("LISTENER", "REPLACE", {"listener": {"name": OUTBOUND}},
     {**NEW_LISTENER, "name": OUTBOUND},
     lambda out: _eq(listener(out, OUTBOUND).address.socket_address.port_value, 9999)),
    # -- FILTER_CHAIN
    ("FILTER_CHAIN", "ADD", {"context": "SIDECAR_INBOUND"},
     {"name": "tls", "filter_chain_match": {"transport_protocol": "tls"}, "filters": [TCP_PROXY]},
     lambda out: _eq([c.name for c in listener(out, INBOUND).filter_chains], ["0.0.0.0_9080", "tls"])),
    ("FILTER_CHAIN", "REMOVE", {"context": "SIDECAR_OUTBOUND"}, None,
     lambda out: _eq(len(listener(out, OUTBOUND).filter_chains), 0)),
    ("FILTER_CHAIN", "MERGE", {"listener": {"filterChain": {"name": "0.0.0.0_9080"}}},
     {"filter_chain_match": {"server_names": ["a.example"]}},
     lambda out: _eq(list(listener(out, INBOUND).filter_chains[0].filter_chain_match.server_names),
                     ["a.example"])),
    ("FILTER_CHAIN", "REPLACE", {"context": "SIDECAR_INBOUND"}, {"name": "tcp", "filters": [TCP_PROXY]},
     lambda out: _eq(listener(out, INBOUND).filter_chains[0].filters[0].name, "envoy.filters.network.tcp_proxy")),
    # -- NETWORK_FILTER
    ("NETWORK_FILTER", "MERGE", hcm_match(),
     {"typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
                                ".v3.HttpConnectionManager", "stat_prefix": "renamed"}},
     lambda out: _eq((manager(out, INBOUND).stat_prefix, http_filters(out)), ("renamed", DEFAULT_HTTP))),
    ("NETWORK_FILTER", "INSERT_FIRST", {"context": "SIDECAR_INBOUND"},
     {"name": "envoy.filters.network.local_ratelimit", "typed_config": {
         "@type": "type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit",
         "stat_prefix": "conn", "token_bucket": {"max_tokens": 5, "fill_interval": "1s"}}},
     lambda out: _eq([f.name for f in listener(out, INBOUND).filter_chains[0].filters],
                     ["envoy.filters.network.local_ratelimit", "envoy.filters.network.http_connection_manager"])),
    ("NETWORK_FILTER", "INSERT_BEFORE", hcm_match(),
     {"name": "envoy.filters.network.rbac", "typed_config": {
         "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC", "stat_prefix": "r"}},
     lambda out: _eq(listener(out, INBOUND).filter_chains[0].filters[0].name, "envoy.filters.network.rbac")),
    ("NETWORK_FILTER", "INSERT_AFTER",
     {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.rbac"}}}},
     TCP_PROXY, "MP5003"),  # matched nothing: reported as a warning, config unchanged
    ("NETWORK_FILTER", "ADD", hcm_match(), TCP_PROXY, "MP5002"),  # after the terminal HCM: Envoy would reject
    ("HTTP_FILTER", "ADD", hcm_match(), {"name": LRL, "typed_config": local_ratelimit()},
     "MP5002"),  # after the router: Envoy would reject
    ("NETWORK_FILTER", "REMOVE", hcm_match(context="SIDECAR_OUTBOUND"), None,
     lambda out: _eq(len(listener(out, OUTBOUND).filter_chains[0].filters), 0)),
    ("NETWORK_FILTER", "REPLACE", hcm_match(), TCP_PROXY,
     lambda out: _eq(listener(out, INBOUND).filter_chains[0].filters[0].name, "envoy.filters.network.tcp_proxy")),
    # -- HTTP_FILTER
    ("HTTP_FILTER", "INSERT_BEFORE", hcm_match("envoy.filters.http.router"),
     {"name": LRL, "typed_config": local_ratelimit()},
     lambda out: _eq(http_filters(out), [*DEFAULT_HTTP[:2], LRL, DEFAULT_HTTP[2]])),
    ("HTTP_FILTER", "INSERT_BEFORE", hcm_match(), {"name": LRL, "typed_config": local_ratelimit()},
     lambda out: _eq(http_filters(out), [LRL, *DEFAULT_HTTP])),
    ("HTTP_FILTER", "INSERT_AFTER", hcm_match("envoy.filters.http.fault"), {"name": LRL, "typed_config":
                                                                             local_ratelimit()},
     lambda out: _eq(http_filters(out), [DEFAULT_HTTP[0], LRL, *DEFAULT_HTTP[1:]])),
    ("HTTP_FILTER", "INSERT_FIRST", hcm_match("envoy.filters.http.router"), {"name": LRL, "typed_config":
                                                                              local_ratelimit()},
     lambda out: _eq(http_filters(out), [LRL, *DEFAULT_HTTP])),
    ("HTTP_FILTER", "REMOVE", hcm_match("envoy.filters.http.cors"), None,
     lambda out: _eq(http_filters(out), [DEFAULT_HTTP[0], DEFAULT_HTTP[2]])),
    ("HTTP_FILTER", "REPLACE", hcm_match("envoy.filters.http.cors"), {"name": LRL, "typed_config":
                                                                       local_ratelimit()},
     lambda out: _eq(http_filters(out), [DEFAULT_HTTP[0], LRL, DEFAULT_HTTP[2]])),
    ("HTTP_FILTER", "MERGE", hcm_match("envoy.router"), {"is_optional": True},
     lambda out: _eq(manager(out, INBOUND).http_filters[2].is_optional, True)),
    # -- ROUTE_CONFIGURATION
    ("ROUTE_CONFIGURATION", "MERGE", {"context": "SIDECAR_OUTBOUND", "routeConfiguration": {"portNumber": 9080}},
     {"request_headers_to_add": [{"header": {"key": "x-patched", "value": "1"}}]},
     lambda out: _eq(route_config(out).request_headers_to_add[0].header.key, "x-patched")),
    # -- VIRTUAL_HOST
    ("VIRTUAL_HOST", "ADD", {"context": "SIDECAR_OUTBOUND"},
     {"name": "extra", "domains": ["extra.example"], "routes": [ROUTE_TO_REVIEWS]},
     lambda out: _eq(route_config(out).virtual_hosts[-1].name, "extra")),
    ("VIRTUAL_HOST", "REMOVE", OUT_ROUTES, None,
     lambda out: _eq(REVIEWS_VHOST in [v.name for v in route_config(out).virtual_hosts], False)),
    ("VIRTUAL_HOST", "MERGE", OUT_ROUTES,
     {"rate_limits": [{"actions": [{"request_headers": {"header_name": ":path", "descriptor_key": "PATH"}}]}]},
     lambda out: _eq(len(_vhost(out, REVIEWS_VHOST).rate_limits), 1)),
    ("VIRTUAL_HOST", "REPLACE", OUT_ROUTES,
     {"name": REVIEWS_VHOST, "domains": ["only.example"], "routes": [ROUTE_TO_REVIEWS]},
     lambda out: _eq(list(_vhost(out, REVIEWS_VHOST).domains), ["only.example"])),
    # -- HTTP_ROUTE
    ("HTTP_ROUTE", "MERGE", {"context": "SIDECAR_INBOUND", "routeConfiguration": {
        "vhost": {"name": "inbound|http|9080", "route": {"action": "ANY"}}}},
     {"typed_per_filter_config": {LRL: local_ratelimit(tokens=3)}},
     lambda out: _eq(list(manager(out, INBOUND).route_config.virtual_hosts[0].routes[0].typed_per_filter_config),
                     [LRL])),
    ("HTTP_ROUTE", "ADD", OUT_ROUTES, ROUTE_TO_REVIEWS,
     lambda out: _eq(_vhost(out, REVIEWS_VHOST).routes[-1].name, "extra")),
    ("HTTP_ROUTE", "INSERT_FIRST", OUT_ROUTES, ROUTE_TO_REVIEWS,
     lambda out: _eq(_vhost(out, REVIEWS_VHOST).routes[0].name, "extra")),
    ("HTTP_ROUTE", "INSERT_BEFORE", {**OUT_ROUTES, "routeConfiguration": {
        "vhost": {"name": REVIEWS_VHOST, "route": {"name": "default"}}}}, ROUTE_TO_REVIEWS,
     lambda out: _eq([r.name for r in _vhost(out, REVIEWS_VHOST).routes], ["extra", "default"])),
    ("HTTP_ROUTE", "INSERT_AFTER", {**OUT_ROUTES, "routeConfiguration": {
        "vhost": {"name": REVIEWS_VHOST, "route": {"name": "default"}}}}, ROUTE_TO_REVIEWS,
     lambda out: _eq([r.name for r in _vhost(out, REVIEWS_VHOST).routes], ["default", "extra"])),
    ("HTTP_ROUTE", "REMOVE", {**OUT_ROUTES, "routeConfiguration": {
        "vhost": {"name": REVIEWS_VHOST, "route": {"action": "ROUTE"}}}}, None,
     lambda out: _eq(len(_vhost(out, REVIEWS_VHOST).routes), 0)),
    ("HTTP_ROUTE", "REPLACE", OUT_ROUTES, ROUTE_TO_REVIEWS,
     lambda out: _eq([r.name for r in _vhost(out, REVIEWS_VHOST).routes], ["extra"])),
    # -- CLUSTER
    ("CLUSTER", "ADD", {}, NEW_CLUSTER, lambda out: cluster(out, "meshpilot-extra")),
    ("CLUSTER", "REMOVE", {"context": "SIDECAR_OUTBOUND", "cluster": {"service": "reviews.default.svc.cluster.local",
                                                                       "portNumber": 9080}}, None,
     lambda out: _eq(REVIEWS in out[CLUSTER], False)),
    ("CLUSTER", "MERGE", {"cluster": {"name": REVIEWS}}, {"connect_timeout": "3s"},
     lambda out: _eq(cluster(out, REVIEWS).connect_timeout.seconds, 3)),
    ("CLUSTER", "REPLACE", {"cluster": {"name": REVIEWS}}, {**NEW_CLUSTER, "name": REVIEWS},
     lambda out: _eq(cluster(out, REVIEWS).type, 0)),  # STATIC
]


def _eq(a: object, b: object) -> None:
    assert a == b, (a, b)


def _vhost(out: Any, name: str):  # type: ignore[no-untyped-def]
    return next(v for v in route_config(out).virtual_hosts if v.name == name)


@pytest.mark.parametrize("apply_to, op, match, value, check", CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_operation(apply_to: str, op: str, match: dict[str, Any], value: dict[str, Any] | None,
                   check: Check) -> None:
    patch: dict[str, Any] = {"operation": op}
    if value is not None:
        patch["value"] = value
    baseline, _ = run()
    out, findings = run(envoy_filter([{"applyTo": apply_to, "match": match, "patch": patch}]))
    if isinstance(check, str):
        assert [f.code for f in findings] == [check], [f.line() for f in findings]
        assert findings[0].field == "spec.configPatches[0]" and findings[0].origin.path == "ef0.yaml"
        assert out == baseline
        return
    assert not findings, [f.line() for f in findings]
    assert out != baseline
    check(out)


def test_every_apply_to_and_operation_is_covered() -> None:
    from pilot.translate.envoyfilter.selection import OPERATIONS

    covered = {(c[0], c[1]) for c in CASES}
    assert covered == {(a, op) for a, ops in OPERATIONS.items() for op in ops}


def test_unpatched_types_are_untouched() -> None:
    baseline, _ = run()
    out, findings = run(envoy_filter([{"applyTo": "CLUSTER", "patch": {"operation": "ADD", "value": NEW_CLUSTER}}]))
    assert not findings
    assert out[LISTENER] == baseline[LISTENER] and out[ROUTE] == baseline[ROUTE]
