
"""PeerAuthentication, RequestAuthentication and AuthorizationPolicy validation."""

from __future__ import annotations

from typing import Any

import pytest

SELECTOR = {"matchLabels": {"app": "reviews"}}
PA_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("mesh strict", {"mtls": {"mode": "STRICT"}}, []),
    ("bad mode", {"mtls": {"mode": "REQUIRED"}}, [("spec.mtls.mode", "unsupported value 'REQUIRED'")]),
    ("port level with selector", {"selector": SELECTOR, "mtls": {"mode": "STRICT"},
                                  "portLevelMtls": {"8080": {"mode": "DISABLE"}}}, []),
    ("port level without selector", {"portLevelMtls": {"8080": {"mode": "DISABLE"}}},
     [("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS")]),
    ("port level empty", {"selector": SELECTOR, "portLevelMtls": {}},
     [("spec.portLevelMtls", "port level mTLS, if defined, must have at least one element")]),
    ("port level bad port", {"selector": SELECTOR, "portLevelMtls": {"0": {"mode": "STRICT"}}},
     [("spec.portLevelMtls.0", "port must be in range 1..65535")]),
    ("port level bad mode", {"selector": SELECTOR, "portLevelMtls": {"80": {"mode": "ON"}}},
     [("spec.portLevelMtls.80.mode", "unsupported value 'ON'")]),
    ("selector wildcard", {"selector": {"matchLabels": {"app": "*"}}},
     [("spec.selector.matchLabels.app", "wildcard is not supported")]),
]

JWT = {"issuer": "https://issuer.example.com", "jwksUri": "https://issuer.example.com/jwks.json"}
RA_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("ok", {"selector": SELECTOR, "jwtRules": [JWT]}, []),
    ("no issuer", {"jwtRules": [{"audiences": ["a"]}]},
     [("spec.jwtRules[0]", "issuer or jwksUri must be non-empty string")]),
    ("jwks uri only", {"jwtRules": [{"jwksUri": "https://x.example.com/keys"}]}, []),
    ("jwks uri scheme", {"jwtRules": [{"issuer": "i", "jwksUri": "ftp://x/keys"}]},
     [("spec.jwtRules[0].jwksUri", "url must have scheme http:// or https://")]),
    ("jwks inline ok", {"jwtRules": [{"issuer": "i", "jwks": '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'}]}, []),
    # Envoy refuses a jwt_authn filter whose inline set has no usable key (found by tests/fuzz).
    ("jwks without a usable key", {"jwtRules": [{"issuer": "i", "jwks": '{"keys": [{"kty": "RSA", "n": "x"}]}'}]},
     [("spec.jwtRules[0].jwks", "jwks has no usable key")]),
    ("jwks not json", {"jwtRules": [{"issuer": "i", "jwks": "{keys"}]},
     [("spec.jwtRules[0].jwks", "jwks parse error")]),
    ("jwks and uri", {"jwtRules": [{"issuer": "i", "jwks": '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "jwksUri": "https://a/k"}]},
     [("spec.jwtRules[0]", "only one of jwks or jwksUri can be set")]),
    ("empty audience", {"jwtRules": [{**JWT, "audiences": [""]}]},
     [("spec.jwtRules[0].audiences[0]", "audience must be non-empty string")]),
    ("from header no name", {"jwtRules": [{**JWT, "fromHeaders": [{"prefix": "Bearer "}]}]},
     [("spec.jwtRules[0].fromHeaders[0].name", "location header name must be non-empty string")]),
    ("from params empty", {"jwtRules": [{**JWT, "fromParams": [""]}]},
     [("spec.jwtRules[0].fromParams[0]", "location query must be non-empty string")]),
    ("output claim header", {"jwtRules": [{**JWT, "outputClaimToHeaders": [{"header": "x a", "claim": "sub"}]}]},
     [("spec.jwtRules[0].outputClaimToHeaders[0].header", "is not a valid header name")]),
    ("timeout", {"jwtRules": [{**JWT, "timeout": "5"}]}, [("spec.jwtRules[0].timeout", "invalid duration")]),
    ("selector and targetRef", {"selector": SELECTOR, "targetRef": {"kind": "Gateway", "name": "gw"}},
     [("spec", "only one of targetRefs or workloadSelector can be set")]),
]

R = "spec.rules[0]"
AP_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("allow nothing", {}, []),
    ("allow all", {"rules": [{}]}, []),
    ("full rule", {"selector": SELECTOR, "action": "ALLOW", "rules": [{
        "from": [{"source": {"principals": ["cluster.local/ns/default/sa/productpage"]}}],
        "to": [{"operation": {"methods": ["GET"], "paths": ["/api/{*}/reviews", "/static/{**}"], "ports": ["9080"]}}],
        "when": [{"key": "request.headers[x-version]", "values": ["v1"]}]}]}, []),
    ("bad action", {"action": "REJECT"}, [("spec.action", "unsupported value 'REJECT'")]),
    ("custom refused", {"action": "CUSTOM", "provider": {"name": "ext"}, "rules": [{}]},
     [("spec.action", "CUSTOM action is not supported by meshpilot")]),
    ("provider without custom", {"action": "ALLOW", "provider": {"name": "ext"}},
     [("spec.provider", "`provider` must not be with non CUSTOM action, found ALLOW")]),
    ("deny without rules", {"action": "DENY"},
     [("spec", "DENY action without `rules` is meaningless")]),
    ("deny with rules", {"action": "DENY", "rules": [{"to": [{"operation": {"ports": ["22"]}}]}]}, []),
    ("empty from", {"rules": [{"from": []}]}, [(f"{R}.from", "`from` must not be empty")]),
    ("empty source", {"rules": [{"from": [{"source": {}}]}]},
     [(f"{R}.from[0].source", "`from.source` must not be empty")]),
    ("missing source", {"rules": [{"from": [{}]}]}, [(f"{R}.from[0].source", "`from.source` must not be nil")]),
    ("empty to", {"rules": [{"to": []}]}, [(f"{R}.to", "`to` must not be empty")]),
    ("empty operation", {"rules": [{"to": [{"operation": {}}]}]},
     [(f"{R}.to[0].operation", "`to.operation` must not be empty")]),
    ("sa with namespaces", {"rules": [{"from": [{"source": {"serviceAccounts": ["default/sa"],
                                                              "namespaces": ["default"]}}]}]},
     [(f"{R}.from[0].source", "cannot set serviceAccounts with namespaces or principals")]),
    ("sa format", {"rules": [{"from": [{"source": {"serviceAccounts": ["a/b/c"]}}]}]},
     [(f"{R}.from[0].source.serviceAccounts[0]", "expected format 'serviceAccount' or 'namespace/serviceAccount'")]),
    ("ip blocks ok", {"rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.0/8", "1.2.3.4"],
                                                       "notRemoteIpBlocks": ["::1"]}}]}]}, []),
    ("ip blocks bad", {"rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.0/40"]}}]}]},
     [(f"{R}.from[0].source.ipBlocks[0]", "10.0.0.0/40 is not a valid CIDR block")]),
    ("empty principal", {"rules": [{"from": [{"source": {"principals": [""]}}]}]},
     [(f"{R}.from[0].source.principals[0]", "empty value not allowed, found in principals")]),
    ("bad port", {"rules": [{"to": [{"operation": {"ports": ["http"]}}]}]},
     [(f"{R}.to[0].operation.ports[0]", "bad port (http)")]),
    ("port out of range", {"rules": [{"to": [{"operation": {"notPorts": ["70000"]}}]}]},
     [(f"{R}.to[0].operation.notPorts[0]", "bad port (70000)")]),
    ("lowercase method", {"rules": [{"to": [{"operation": {"methods": ["get"]}}]}]},
     [("W", f"{R}.to[0].operation.methods[0]", "'get' is not a standard HTTP method")]),
    ("bad path template", {"rules": [{"to": [{"operation": {"paths": ["/a/{**}/b/{*}"]}}]}]},
     [(f"{R}.to[0].operation.paths[0]", "{**} is not the last operator")]),
    ("brace path", {"rules": [{"to": [{"operation": {"paths": ["/a/{id}"]}}]}]},
     [(f"{R}.to[0].operation.paths[0]", "Contains '{' or '}' beyond a supported path template")]),
    ("when no values", {"rules": [{"when": [{"key": "source.ip"}]}]},
     [(f"{R}.when[0]", "at least one of `values` or `notValues` must be set for key source.ip")]),
    ("when no key", {"rules": [{"when": [{"values": ["a"]}]}]}, [(f"{R}.when[0].key", "`key` must not be empty")]),
    ("when unknown key", {"rules": [{"when": [{"key": "request.body", "values": ["x"]}]}]},
     [(f"{R}.when[0].key", "unknown attribute: request.body")]),
    ("when bad map key", {"rules": [{"when": [{"key": "request.headers", "values": ["x"]}]}]},
     [(f"{R}.when[0].key", "bad key (request.headers): should have format a[b]")]),
    ("when claims", {"rules": [{"when": [{"key": "request.auth.claims[groups]", "values": ["admin"]}]}]}, []),
    ("when replaced key", {"rules": [{"when": [{"key": "destination.labels[app]", "values": ["x"]}]}]},
     [(f"{R}.when[0].key", "is replaced by the workload selector")]),
    ("when bad ip", {"rules": [{"when": [{"key": "source.ip", "notValues": ["1.2.3"]}]}]},
     [(f"{R}.when[0].notValues[0]", "invalid `notValue` for `key` source.ip")]),
    ("when bad port", {"rules": [{"when": [{"key": "destination.port", "values": ["eighty"]}]}]},
     [(f"{R}.when[0].values[0]", "invalid `value` for `key` destination.port")]),
    ("rule null", {"rules": [None]}, [(R, "`rule` must not be nil")]),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in PA_CASES], ids=[c[0] for c in PA_CASES])
def test_peer_authentication(check, spec, expected):
    check("PeerAuthentication", spec, expected)


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in RA_CASES], ids=[c[0] for c in RA_CASES])
def test_request_authentication(check, spec, expected):
    check("RequestAuthentication", spec, expected)


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in AP_CASES], ids=[c[0] for c in AP_CASES])
def test_authorization_policy(check, spec, expected):
    check("AuthorizationPolicy", spec, expected)
