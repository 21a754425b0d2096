# ruff: noqa: E501  (case tables read best one case per line)
"""Rules where meshpilot used to differ from Istio's webhook and CRD schemas (issue 10): upper case in host
labels is accepted, a Sidecar with only `egress: []` is empty, DestinationRule warmup bounds,
RequestAuthentication jwksUri/claims bounds, and WorkloadEntry port names and numbers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.validation.conftest import Check

ROUND_ROBIN: dict[str, Any] = {"simple": "ROUND_ROBIN"}


def dr_lb(**lb: Any) -> dict[str, Any]:
    return {"host": "reviews", "trafficPolicy": {"loadBalancer": {**ROUND_ROBIN, **lb}}}


def jwt(**rule: Any) -> dict[str, Any]:
    return {"jwtRules": [{"issuer": "https://issuer.example.com", **rule}]}


LB = "spec.trafficPolicy.loadBalancer"
RULE = "spec.jwtRules[0]"

CASES: list[tuple[str, str, Any, list[tuple[str, ...]]]] = [
    # Istio's labels.IsDNS1123Label takes [a-zA-Z0-9]: the webhook admits these hosts.
    ("upper-case VirtualService hosts", "VirtualService", {"hosts": ["Reviews.Example.COM", "*.Example.com"], "http": [{"route": [{"destination": {"host": "Reviews.Example.COM"}}]}]}, []),
    ("upper-case DestinationRule host", "DestinationRule", {"host": "Reviews.Default.svc.cluster.local"}, []),
    ("upper-case ServiceEntry host", "ServiceEntry", {"hosts": ["API.Example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}], "resolution": "DNS"}, []),
    ("upper-case sidecar egress host", "Sidecar", {"egress": [{"hosts": ["default/Reviews.Example.com"]}]}, []),
    ("still no underscore in a host", "DestinationRule", {"host": "re_views.example.com"}, [("spec.host", "label 're_views' invalid")]),
    # Istio decodes `egress: []` as no egress listeners at all.
    ("sidecar with only egress: []", "Sidecar", {"egress": []}, [("spec", "sidecar: empty configuration provided")]),
    ("sidecar with egress: [] and a policy", "Sidecar", {"egress": [], "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}, []),
    # DestinationRule warmup (slow start).
    ("warmup in bounds", "DestinationRule", dr_lb(warmup={"duration": "30s", "minimumPercent": 20, "aggression": 1.5}), []),
    ("warmup minimumPercent over 100", "DestinationRule", dr_lb(warmup={"duration": "30s", "minimumPercent": 150}),
     [(f"{LB}.warmup.minimumPercent", "minimumPercent value should be less than or equal to 100")]),
    ("warmup minimumPercent negative", "DestinationRule", dr_lb(warmup={"duration": "30s", "minimumPercent": -1}),
     [(f"{LB}.warmup.minimumPercent", "minimumPercent value should be greater than or equal to 0")]),
    ("warmup aggression zero", "DestinationRule", dr_lb(warmup={"duration": "30s", "aggression": 0}),
     [(f"{LB}.warmup.aggression", "aggression should be greater than 0")]),
    ("warmup aggression negative", "DestinationRule", dr_lb(warmup={"duration": "30s", "aggression": -2.5}),
     [(f"{LB}.warmup.aggression", "aggression should be greater than 0")]),
    ("warmupDurationSecs zero", "DestinationRule", dr_lb(warmupDurationSecs="0s"), [(f"{LB}.warmupDurationSecs", "duration must be greater than 1ms")]),
    ("warmupDurationSecs not a duration", "DestinationRule", dr_lb(warmupDurationSecs="soon"), [(f"{LB}.warmupDurationSecs", "")]),
    ("warmupDurationSecs fine", "DestinationRule", dr_lb(warmupDurationSecs="45s"), []),
    # RequestAuthentication jwtRules.
    ("jwksUri with a port", "RequestAuthentication", jwt(jwksUri="https://keys.example.com:8443/jwks"), []),
    ("jwksUri ipv6 with a port", "RequestAuthentication", jwt(jwksUri="https://[2001:db8::1]:8443/jwks"), []),
    ("jwksUri port out of range", "RequestAuthentication", jwt(jwksUri="https://keys.example.com:99999/jwks"),
     [(f"{RULE}.jwksUri", "port number 99999 must be in the range 1..65535")]),
    ("jwksUri port zero", "RequestAuthentication", jwt(jwksUri="https://keys.example.com:0/jwks"),
     [(f"{RULE}.jwksUri", "port number 0 must be in the range 1..65535")]),
    ("jwksUri port not a number", "RequestAuthentication", jwt(jwksUri="https://keys.example.com:https/jwks"),
     [(f"{RULE}.jwksUri", "invalid port 'https'")]),
    ("jwks_uri is checked like jwksUri", "RequestAuthentication", jwt(jwks_uri="ftp://keys.example.com/jwks"),
     [(f"{RULE}.jwks_uri", "url must have scheme http:// or https://")]),
    ("jwks_uri and jwks together", "RequestAuthentication", jwt(jwks_uri="https://keys.example.com/jwks",
                                                    jwks='{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'),
     [(RULE, "only one of jwks or jwksUri can be set")]),
    ("jwks_uri alone stands in for the issuer", "RequestAuthentication", {"jwtRules": [{"jwks_uri": "https://keys.example.com/jwks"}]}, []),
    ("jwksUri too long", "RequestAuthentication", jwt(jwksUri="https://keys.example.com/" + "k" * 2048),
     [(f"{RULE}.jwksUri", "jwksUri must be at most 2048 characters")]),
    ("empty space-delimited claim", "RequestAuthentication", jwt(spaceDelimitedClaims=["scope", ""]),
     [(f"{RULE}.spaceDelimitedClaims[1]", "must be non-empty string")]),
    ("too many space-delimited claims", "RequestAuthentication", jwt(spaceDelimitedClaims=[f"c{i}" for i in range(65)]),
     [(f"{RULE}.spaceDelimitedClaims", "must have at most 64 items")]),
    ("fromHeaders entry without a name", "RequestAuthentication", jwt(fromHeaders=[{"prefix": "Bearer "}]),
     [(f"{RULE}.fromHeaders[0].name", "location header name must be non-empty string")]),
    # WorkloadEntry ports: a port name is a DNS-1123 label (either case), a number is 1..65535.
    ("workload entry port names", "WorkloadEntry", {"address": "10.0.0.5", "ports": {"http-web": 8080, "GRPC": 9090}}, []),
    ("workload entry bad port name", "WorkloadEntry", {"address": "10.0.0.5", "ports": {"http_web": 8080}},
     [("spec.ports.http_web", "invalid port name: http_web")]),
    ("workload entry port above range", "WorkloadEntry", {"address": "10.0.0.5", "ports": {"http": 65536}},
     [("spec.ports.http", "port number 65536 must be in the range 1..65535")]),
    ("service entry endpoint bad port name", "ServiceEntry",
     {"hosts": ["a.example.com"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}], "resolution": "STATIC",
      "endpoints": [{"address": "10.0.0.5", "ports": {"http": 8080, "no.dots": 81}}]},
     [("spec.endpoints[0].ports.no.dots", "endpoint port 81 is not defined by the service entry"),
      ("spec.endpoints[0].ports.no.dots", "invalid port name: no.dots")]),
]


@pytest.mark.parametrize(("kind", "spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_istio_rules(check: Check, kind: str, spec: Any, expected: list[tuple[str, ...]]) -> None:
    check(kind, spec, expected)


@pytest.mark.parametrize("host", ["Reviews.Example.COM", "reviews.example.com"])
def test_kubernetes_names_stay_lower_case(check: Check, host: str) -> None:
    # Kubernetes validates ExternalName as a lower-case DNS-1123 subdomain, unlike Istio hosts.
    expected = [] if host.islower() else [("spec.externalName", "label 'Reviews' invalid")]
    check("Service", None, expected, body={"spec": {"type": "ExternalName", "externalName": host}})
