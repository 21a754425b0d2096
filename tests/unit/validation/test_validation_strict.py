# ruff: noqa: E501  (case tables read best one case per line)
"""Strict field validation: a field the kind's schema does not name is an error with its path, as the API
server's `--validate=strict` reports it; open regions (EnvoyFilter patch values, status) stay open."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pilot.model.resource import Origin, resource_from_document
from pilot.validation import validate_resource
from tests.unit.validation.conftest import Check
from tests.unit.validation.helpers import API_VERSIONS, assert_findings

UNKNOWN = "unknown field"
ROUTE = {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 80},
                                                   {"destination": {"host": "reviews", "subset": "v2"}, "weight": 20}]}]}


def with_route(**extra: Any) -> dict[str, Any]:
    spec = copy.deepcopy(ROUTE)
    spec["http"][0].update(extra)
    return spec


def typo_route() -> dict[str, Any]:
    spec = with_route()
    spec["http"][0]["route"][1] = {"destination": {"host": "reviews", "subset": "v2"}, "wieght": 20}
    return spec


PATCH = {"configPatches": [{"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND"},
                            "patch": {"operation": "INSERT_BEFORE",
                                      "value": {"name": "envoy.filters.http.local_ratelimit",
                                                "typed_config": {"@type": "type.googleapis.com/x", "anything": {"goes": [1]}}}}}]}

CASES: list[tuple[str, str, Any, list[tuple[str, ...]]]] = [
    ("weight typo", "VirtualService", typo_route(), [("spec.http[0].route[1].wieght", 'unknown field (did you mean "weight"?)')]),
    ("no suggestion", "VirtualService", with_route(frobnicate=True), [("spec.http[0].frobnicate", UNKNOWN)]),
    ("map of StringMatch", "VirtualService", with_route(match=[{"headers": {"x-user": {"exct": "jason"}}}]),
     [("spec.http[0].match[0].headers.x-user.exct", 'did you mean "exact"?')]),
    ("field nobody reads is typed", "VirtualService", with_route(retries={"attempts": "3"}),
     [("spec.http[0].retries.attempts", "must be an integer, got '3'")]),
    ("object where a list belongs", "VirtualService", {**ROUTE, "gateways": {"mesh": True}}, [("spec.gateways", "must be a list")]),
    ("dr policy typo", "DestinationRule", {"host": "reviews", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}, "connectionPoool": {}}},
     [("spec.trafficPolicy.connectionPoool", 'did you mean "connectionPool"?')]),
    ("dr subset typo", "DestinationRule", {"host": "reviews", "subsets": [{"name": "v1", "label": {"version": "v1"}}]},
     [("spec.subsets[0].label", 'did you mean "labels"?')]),
    ("authz principal typo", "AuthorizationPolicy", {"action": "ALLOW", "rules": [{"from": [{"source": {"principal": ["cluster.local/ns/default/sa/a"]}}]}]},
     [("spec.rules[0].from[0].source.principal", 'did you mean "principals"?'),
      ("spec.rules[0].from[0].source", "`from.source` must not be empty")]),
    ("peer authn typo", "PeerAuthentication", {"mtls": {"mdoe": "STRICT"}}, [("spec.mtls.mdoe", UNKNOWN)]),
    ("request authn typo", "RequestAuthentication", {"jwtRules": [{"issuer": "i", "jwks": '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "fromHeader": [{"name": "x"}]}]},
     [("spec.jwtRules[0].fromHeader", 'did you mean "fromHeaders"?')]),
    ("request authn snake-case jwks_uri is in Istio's schema", "RequestAuthentication", {"jwtRules": [{"issuer": "i", "jwks_uri": "https://x/keys"}]}, []),
    ("gateway typo", "Gateway", {"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "host": ["*"]}]},
     [("spec.servers[0].host", 'did you mean "hosts"?'), ("spec.servers[0].hosts", "server config must contain at least one host")]),
    ("service entry typo", "ServiceEntry", {"hosts": ["a.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}], "resolutoin": "DNS"},
     [("spec.resolutoin", 'did you mean "resolution"?')]),
    ("sidecar typo", "Sidecar", {"egress": [{"hosts": ["./*"], "captureMod": "NONE"}]}, [("spec.egress[0].captureMod", 'did you mean "captureMode"?')]),
    ("workload entry typo", "WorkloadEntry", {"address": "10.0.0.1", "label": {"app": "a"}}, [("spec.label", 'did you mean "labels"?')]),
    ("envoy filter patch value is open", "EnvoyFilter", PATCH, []),
    ("envoy filter outside the value is strict", "EnvoyFilter", {"configPatches": [{**PATCH["configPatches"][0], "aplyTo": "X"}]},
     [("spec.configPatches[0].aplyTo", 'did you mean "applyTo"?')]),
    ("rate limit policy typo", "RateLimitPolicy", {"rules": [{"limit": {"tokens": 5, "fillInterval": "1s", "burts": 2}}]},
     [("spec.rules[0].limit.burts", 'did you mean "burst"?')]),
    ("rate limit policy typed", "RateLimitPolicy", {"rules": [{"limit": {"tokens": 5, "fillInterval": "1s"}, "global": "yes"}]},
     [("spec.rules[0].global", "must be true or false, got 'yes'")]),
]


@pytest.mark.parametrize(("kind", "spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unknown_fields_in_istio_and_meshpilot_kinds(check: Check, kind: str, spec: Any, expected: list[tuple[str, ...]]) -> None:
    check(kind, spec, expected)


def _doc(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": {"name": "demo", "namespace": "default"}, **fields}


SERVICE_SPEC = {"selector": {"app": "a"}, "ports": [{"name": "http", "port": 80}]}
DOCUMENTS: list[tuple[str, dict[str, Any], list[tuple[str, ...]]]] = [
    ("istio top level", _doc("VirtualService", spec=ROUTE, sepc={}), [("sepc", 'did you mean "spec"?')]),
    ("istio status is open", _doc("VirtualService", spec=ROUTE, status={"validationMessages": [], "anything": {"x": 1}}), []),
    ("metadata typo", {**_doc("DestinationRule", spec={"host": "r"}), "metadata": {"name": "demo", "namespace": "default", "lables": {"a": "b"}}},
     [("metadata.lables", 'did you mean "labels"?')]),
    ("metadata as the API server returns it", {**_doc("Gateway", spec={"servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}),
                                               "metadata": {"name": "demo", "namespace": "default", "uid": "u", "resourceVersion": "7", "generation": 2,
                                                            "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": {"a": "b"},
                                                            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "n", "uid": "u", "controller": True}],
                                                            "finalizers": ["f"], "managedFields": [{"manager": "kubectl"}]}}, []),
    ("annotation values are strings", {**_doc("Sidecar", spec={"egress": [{"hosts": ["./*"]}]}),
                                       "metadata": {"name": "demo", "namespace": "default", "annotations": {"inject": False}}},
     [("metadata.annotations.inject", "must be a string, got False")]),
    ("service top level is strict", _doc("Service", spec=SERVICE_SPEC, specs={}), [("specs", 'did you mean "spec"?')]),
    ("service port typo is a warning", _doc("Service", spec={**SERVICE_SPEC, "ports": [{"name": "http", "port": 80, "targetPrt": 8080}]}),
     [("W", "spec.ports[0].targetPrt", 'did you mean "targetPort"?')]),
    ("service spec of a newer Kubernetes", _doc("Service", spec={**SERVICE_SPEC, "trafficDistribution": "PreferClose", "futureField": 1}),
     [("W", "spec.futureField", UNKNOWN)]),
    ("pod status podIp typo", _doc("Pod", spec={"containers": [{"name": "a", "image": "b", "anything": 1}]}, status={"podIp": "10.0.0.1"}),
     [("W", "status.podIp", 'did you mean "podIP"?')]),
    ("secret top level", _doc("Secret", type="kubernetes.io/tls", stringData={"tls.crt": "c", "tls.key": "k"}, dta={}),
     [("dta", 'did you mean "data"?')]),
    ("endpoint slice", _doc("EndpointSlice", addressType="IPv4", endpoints=[{"addresses": ["10.0.0.1"], "condition": {"ready": True}}]),
     [("W", "endpoints[0].condition", 'did you mean "conditions"?')]),
    ("namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo", "label": {}}}, [("metadata.label", 'did you mean "labels"?')]),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in DOCUMENTS], ids=[c[0] for c in DOCUMENTS])
def test_unknown_fields_at_top_level_metadata_and_in_kubernetes_kinds(doc: dict[str, Any], expected: list[tuple[str, ...]]) -> None:
    assert_findings(validate_resource(resource_from_document(doc, Origin("test.yaml", 1))), expected)


def test_objects_an_api_server_admitted_report_unknown_fields_one_level_softer() -> None:
    """The server has refused or pruned typos already, so what is left comes from a newer schema."""
    origin = Origin("k8s://VirtualService/default/demo", 0)
    vs = resource_from_document(_doc("VirtualService", spec=typo_route()), origin)
    assert_findings(validate_resource(vs), [("W", "spec.http[0].route[1].wieght", UNKNOWN)])
    svc = resource_from_document(_doc("Service", spec={**SERVICE_SPEC, "newField": 1}), origin)
    assert validate_resource(svc) == []


def test_a_value_the_kind_validator_rejected_is_not_reported_twice(check: Check) -> None:
    spec = with_route()
    spec["http"][0]["timeout"] = 5
    check("VirtualService", spec, [("spec.http[0].timeout", "duration must be a string")])
