"""RequestAuthentication jwtRules -> one `envoy.filters.http.jwt_authn` HTTP filter.

Istio's shape (istio-reference.md §1.7, pilot/pkg/security/authn): one provider per rule, named
`origins-<n>` across all selected policies; a single rule for every path requiring "any provider, or
no token at all". So a token that fails every provider is rejected (401) while a request without a
token passes, and requiring one is AuthorizationPolicy's job (`requestPrincipals`). The verified payload
goes to dynamic metadata under the key RBAC's request-principal matchers read (`rbac_matchers.JWT_PAYLOAD`).
https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/jwt_authn_filter
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from envoy.config.core.v3.base_pb2 import DataSource
from envoy.config.route.v3.route_components_pb2 import RouteMatch
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import HttpFilter
from google.protobuf.empty_pb2 import Empty

from pilot.model.findings import Finding, Severity
from pilot.model.requestauthn import DEFAULT_SPACE_DELIMITED_CLAIMS, JwtRule
from pilot.translate.pb import pack
from pilot.translate.rbac_matchers import JWT_FILTER, JWT_PAYLOAD

# A JWKS whose private key was thrown away: no token verifies against it. Istio answers the same way when
# it cannot fetch a rule's keys (a "fake" JWKS), so that rule fails closed: its tokens get 401.
UNUSABLE_JWKS = json.dumps({"keys": [{
    "kty": "RSA", "e": "AQAB", "kid": "meshpilot-unusable", "alg": "RS256", "use": "sig",
    "n": "qtMHgdkEsWOzq6L-NfAbLiKU15MFrRu5KFLtrjuN_VCAalTvKvN5F4KhbG8UEV6Z0bimgyLEcsO7G7kiMe3zd3hAmA68fiLFLD"
         "51VXgO9qkwrzpBUyfl07BFzKbNuEGvhwa9SI4CZeLf4RnXO6VNlheX5LaJ7nAaqVOFVg-8BN6Ze7unYqv9ol0ewC8F4KyiDpmlr"
         "l8EcxM1fkNaulIEFGrfX9aG10-7ufS3SLxjwmgWRdAw9bNns_nJrR-OrgGNAHva8YY8ZQ_z6r0Sq8JXQy-Q-gi9Iq4eqdjDSf50"
         "rEDEjh6sb2-qPTEYaZIi4AaCuEens0lWZvGhQa-cWgElkw"}]}, separators=(",", ":"))
CODE_JWKS_URI = "MP0410"
CODE_BAD_JWKS = "MP0411"


def provider_name(n: int) -> str:
    return f"origins-{n}"


def _jwks(rule: JwtRule, findings: list[Finding]) -> str:
    """The inline key set for a rule, or the unusable one (with a finding) when we cannot have its keys."""
    field = f"spec.jwtRules[{rule.index}]"
    if rule.jwks:
        try:
            parsed = json.loads(rule.jwks)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and ("keys" in parsed or "kty" in parsed):
            return rule.jwks
        findings.append(Finding.about(rule.policy, f"{field}.jwks", "jwks is not a JSON Web Key Set: tokens "
                                      "for this rule are rejected (401)", code=CODE_BAD_JWKS))
        return UNUSABLE_JWKS
    findings.append(Finding.about(
        rule.policy, f"{field}.jwksUri",
        f"jwksUri {rule.jwks_uri!r} is not supported (the control plane fetches no remote keys; put the key "
        "set inline in `jwks`): tokens for this rule are rejected (401), requests without a token pass",
        code=CODE_JWKS_URI, severity=Severity.WARNING))
    return UNUSABLE_JWKS


def jwt_provider(rule: JwtRule, findings: list[Finding], clear_route_cache: bool = False) -> jwt.JwtProvider:
    provider = jwt.JwtProvider(
        issuer=rule.issuer, audiences=list(rule.audiences), forward=rule.forward_original_token,
        forward_payload_header=rule.output_payload_to_header, payload_in_metadata=JWT_PAYLOAD,
        local_jwks=DataSource(inline_string=_jwks(rule, findings)), clear_route_cache=clear_route_cache)
    provider.from_headers.extend(jwt.JwtHeader(name=h.name, value_prefix=h.prefix) for h in rule.from_headers)
    provider.from_params.extend(rule.from_params)
    provider.from_cookies.extend(rule.from_cookies)
    provider.claim_to_headers.extend(jwt.JwtClaimToHeader(header_name=header, claim_name=claim)
                                     for header, claim in rule.output_claim_to_headers)
    claims = dict.fromkeys([*DEFAULT_SPACE_DELIMITED_CLAIMS, *rule.space_delimited_claims])
    provider.normalize_payload_in_metadata.space_delimited_claims.extend(claims)
    return provider


def jwt_authentication(rules: Sequence[JwtRule], findings: list[Finding],
                       clear_route_cache: bool = False) -> jwt.JwtAuthentication | None:
    """The filter config for these rules; None when there are none (then the filter is left out).

    `clear_route_cache` (gateways, as istiod does): the filter looks the route up before it has a payload,
    so Envoy must pick the route again for VirtualService claim matches (`@request.auth.claims`) to see it.
    """
    if not rules:
        return None
    config = jwt.JwtAuthentication(bypass_cors_preflight=True)  # CORS preflights carry no token
    for n, rule in enumerate(rules):
        config.providers[provider_name(n)].CopyFrom(jwt_provider(rule, findings, clear_route_cache))
    requirement = config.rules.add(match=RouteMatch(prefix="/")).requires
    anyof = requirement.requires_any.requirements
    anyof.extend(jwt.JwtRequirement(provider_name=provider_name(n)) for n in range(len(rules)))
    anyof.add().allow_missing.CopyFrom(Empty())
    return config


def jwt_authn_filter(rules: Sequence[JwtRule], findings: list[Finding],
                     clear_route_cache: bool = False) -> HttpFilter | None:
    config = jwt_authentication(rules, findings, clear_route_cache)
    return None if config is None else HttpFilter(name=JWT_FILTER, typed_config=pack(config))
