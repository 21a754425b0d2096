# ruff: noqa: E501  (case tables read best one case per line)
"""EnvoyFilter, RateLimitPolicy and the Kubernetes kinds."""

from __future__ import annotations

from typing import Any

import pytest

from pilot.validation import validate_resource
from tests.unit.validation.helpers import assert_findings, make_resource

PATCH = {"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND"},
         "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.filters.http.local_ratelimit"}}}
P = "spec.configPatches[0]"
EF_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("ok", {"workloadSelector": {"labels": {"app": "ratings"}}, "configPatches": [PATCH], "priority": -10}, []),
    ("targetRefs unsupported", {"targetRefs": [{"kind": "Gateway", "name": "gw"}], "configPatches": [PATCH]},
     [("W", "spec.targetRefs", "not supported by meshpilot")]),
    ("remove without value", {"configPatches": [{"applyTo": "CLUSTER", "patch": {"operation": "REMOVE"}}]}, []),
    ("bad applyTo", {"configPatches": [{**PATCH, "applyTo": "HTTP_FILTERS"}]},
     [(f"{P}.applyTo", "unsupported value 'HTTP_FILTERS'")]),
    ("missing applyTo", {"configPatches": [{"patch": {"operation": "REMOVE"}}]},
     [(f"{P}.applyTo", "Envoy filter: missing applyTo")]),
    ("bad context", {"configPatches": [{**PATCH, "match": {"context": "INBOUND"}}]},
     [(f"{P}.match.context", "unsupported value 'INBOUND'")]),
    ("bad operation", {"configPatches": [{**PATCH, "patch": {"operation": "UPSERT", "value": {}}}]},
     [(f"{P}.patch.operation", "unsupported value 'UPSERT'")]),
    ("missing value", {"configPatches": [{**PATCH, "patch": {"operation": "MERGE"}}]},
     [(f"{P}.patch.value", "missing patch value for non-remove operation MERGE")]),
    ("missing patch", {"configPatches": [{"applyTo": "CLUSTER"}]}, [(f"{P}.patch", "Envoy filter: missing patch")]),
    ("priority not int", {"configPatches": [PATCH], "priority": "high"}, [("spec.priority", "must be an integer")]),
    ("two match objects", {"configPatches": [{**PATCH, "match": {"listener": {}, "cluster": {}}}]},
     [(f"{P}.match", "only one of listener, routeConfiguration, cluster or waypoint")]),
    ("filter class on cluster", {"configPatches": [{"applyTo": "CLUSTER",
                                                    "patch": {"operation": "MERGE", "value": {}, "filterClass": "AUTHN"}}]},
     [(f"{P}.patch.filterClass", "filterClass is only supported for HTTP_FILTER")]),
]

RULE = {"match": {"path": {"prefix": "/ratings"}, "method": "GET"}, "limit": {"tokens": 10, "fillInterval": "1s"}}
L = "spec.rules[0]"
RL_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("ok", {"workloadSelector": {"labels": {"app": "ratings"}}, "rules": [RULE]}, []),
    ("full", {"rules": [{**RULE, "name": "per-user", "descriptors": [{"header": "x-user"}, {"clientIp": True}],
                         "response": {"status": 429, "headers": {"x-ratelimited": "true"}},
                         "limit": {"tokens": 5, "fillInterval": "100ms", "burst": 0}}]}, []),
    ("no rules", {}, [("spec.rules", "rate limit policy must have at least one rule")]),
    ("no limit", {"rules": [{"match": {"method": "GET"}}]}, [(f"{L}.limit", "limit is required")]),
    ("zero tokens", {"rules": [{"limit": {"tokens": 0, "fillInterval": "1s"}}]},
     [(f"{L}.limit.tokens", "tokens must be greater than 0")]),
    ("no fill interval", {"rules": [{"limit": {"tokens": 1}}]}, [(f"{L}.limit.fillInterval", "fillInterval is required")]),
    ("zero fill interval", {"rules": [{"limit": {"tokens": 1, "fillInterval": "0s"}}]},
     [(f"{L}.limit.fillInterval", "duration must be greater than 1ms")]),
    ("negative burst", {"rules": [{"limit": {"tokens": 1, "fillInterval": "1s", "burst": -1}}]},
     [(f"{L}.limit.burst", "burst must not be negative")]),
    ("bad method", {"rules": [{**RULE, "match": {"method": "get"}}]},
     [(f"{L}.match.method", "'get' is not a supported HTTP method")]),
    ("bad path regex", {"rules": [{**RULE, "match": {"path": {"regex": "a++"}}}]},
     [(f"{L}.match.path.regex", "bad repetition operator")]),
    ("header match", {"rules": [{**RULE, "match": {"headers": {"x-user": {"prefix": ""}}}}]},
     [(f"{L}.match.headers.x-user.prefix", "prefix string match should not be empty")]),
    ("descriptor both", {"rules": [{**RULE, "descriptors": [{"header": "x", "clientIp": True}]}]},
     [(f"{L}.descriptors[0]", "descriptor must set exactly one of header or clientIp")]),
    ("descriptor clientIp false", {"rules": [{**RULE, "descriptors": [{"clientIp": False}]}]},
     [(f"{L}.descriptors[0].clientIp", "clientIp must be true when set")]),
    ("response status", {"rules": [{**RULE, "response": {"status": 200}}]},
     [(f"{L}.response.status", "status 200 is not in range 400-599")]),
    ("duplicate names", {"rules": [{**RULE, "name": "a"}, {**RULE, "name": "a"}]},
     [("spec.rules[1].name", "duplicate rule name a")]),
    ("global", {"rules": [{**RULE, "global": True}]}, []),
    ("fill too fast", {"rules": [{**RULE, "limit": {"tokens": 1, "fillInterval": "10ms"}}]},
     [(f"{L}.limit.fillInterval", "fillInterval must be at least 50ms")]),
    ("global not a flag", {"rules": [{**RULE, "global": "yes please"}]}, [(f"{L}.global", "must be true or false")]),
]

SVC_PORT = {"name": "http", "port": 9080, "targetPort": 9080}
SVC_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("ok", {"selector": {"app": "reviews"}, "ports": [SVC_PORT]}, []),
    ("named target port", {"ports": [{"port": 80, "targetPort": "http-web"}]}, []),
    ("no ports", {"selector": {"app": "x"}}, [("spec.ports", "ports are required")]),
    ("headless no ports", {"clusterIP": "None"}, []),
    ("port range", {"ports": [{"port": 0}]}, [("spec.ports[0].port", "port number 0")]),
    ("port missing", {"ports": [{"name": "http"}]}, [("spec.ports[0].port", "port is required")]),
    ("duplicate names", {"ports": [SVC_PORT, {**SVC_PORT, "port": 9081}]},
     [("spec.ports[1].name", "duplicate port name: http")]),
    ("unnamed multi", {"ports": [{"port": 80}, {"port": 81, "name": "b"}]},
     [("spec.ports[0].name", "port name is required when a service has more than one port")]),
    ("bad protocol", {"ports": [{"port": 80, "protocol": "HTTP"}]},
     [("spec.ports[0].protocol", "unsupported value 'HTTP'")]),
    ("bad type", {"type": "Internal", "ports": [SVC_PORT]}, [("spec.type", "unsupported value 'Internal'")]),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in EF_CASES], ids=[c[0] for c in EF_CASES])
def test_envoy_filter(check, spec, expected):
    check("EnvoyFilter", spec, expected)


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in RL_CASES], ids=[c[0] for c in RL_CASES])
def test_rate_limit_policy(check, spec, expected):
    check("RateLimitPolicy", spec, expected)


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in SVC_CASES], ids=[c[0] for c in SVC_CASES])
def test_service(check, spec, expected):
    check("Service", spec, expected)


CRT = "LS0tLS1CRUdJTg=="
BODY_CASES: list[tuple[str, str, dict[str, Any], list[tuple[str, ...]]]] = [
    ("pod ip", "Pod", {"status": {"podIP": "10.1.2.3", "podIPs": [{"ip": "10.1.2.3"}]}}, []),
    ("pod bad ip", "Pod", {"status": {"podIP": "10.1.2"}}, [("status.podIP", "10.1.2 is not a valid IP")]),
    ("pod bad ips", "Pod", {"status": {"podIPs": [{"ip": "x"}]}}, [("status.podIPs[0].ip", "x is not a valid IP")]),
    ("pod no status", "Pod", {}, []),
    ("slice ok", "EndpointSlice", {"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}],
                                   "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}]}, []),
    ("slice no type", "EndpointSlice", {"endpoints": []}, [("addressType", "addressType is required")]),
    ("slice bad type", "EndpointSlice", {"addressType": "IPv5"}, [("addressType", "unsupported value 'IPv5'")]),
    ("slice v6 in v4", "EndpointSlice", {"addressType": "IPv4", "endpoints": [{"addresses": ["::1"]}]},
     [("endpoints[0].addresses[0]", "::1 is not an IPv4 address")]),
    ("slice bad ip", "EndpointSlice", {"addressType": "IPv6", "endpoints": [{"addresses": ["zz::1"]}]},
     [("endpoints[0].addresses[0]", "zz::1 is not a valid IP")]),
    ("slice fqdn", "EndpointSlice", {"addressType": "FQDN", "endpoints": [{"addresses": ["vm.example.com"]}]}, []),
    ("slice no addresses", "EndpointSlice", {"addressType": "IPv4", "endpoints": [{"addresses": []}]},
     [("endpoints[0].addresses", "at least one address is required")]),
    ("tls secret ok", "Secret", {"type": "kubernetes.io/tls", "data": {"tls.crt": CRT, "tls.key": CRT}}, []),
    ("tls secret string data", "Secret", {"type": "kubernetes.io/tls", "stringData": {"tls.crt": "a", "tls.key": "b"}},
     []),
    ("tls secret missing key", "Secret", {"type": "kubernetes.io/tls", "data": {"tls.crt": CRT}},
     [("data", "secret of type kubernetes.io/tls must have tls.key in data or stringData")]),
    ("secret bad base64", "Secret", {"data": {"token": "not base64!"}},
     [("data.token", "data value for token is not valid base64")]),
    ("namespace labels", "Namespace", {"metadata": {"name": "demo", "labels": {"istio-injection": "enabled"}}}, []),
    ("namespace bad label", "Namespace", {"metadata": {"name": "demo", "labels": {"istio-injection": "on off"}}},
     [("metadata.labels.istio-injection", "invalid tag value: 'on off'")]),
]


@pytest.mark.parametrize(("kind", "body", "expected"), [c[1:] for c in BODY_CASES], ids=[c[0] for c in BODY_CASES])
def test_kubernetes_kinds(kind, body, expected):
    assert_findings(validate_resource(make_resource(kind, body=body)), expected)


def test_unknown_kind_has_no_resource_findings():
    resource = make_resource("Service", {"ports": [SVC_PORT]})
    unknown = type(resource)(kind="ConfigMap", api_version="v1", name="x", namespace="default", spec={})
    assert validate_resource(unknown) == []
