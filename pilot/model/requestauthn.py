"""Which RequestAuthentications apply to a proxy, and their JWT rules as plain data.

Scoping follows Istio's other security policies: policies in the root namespace and in the workload's
namespace whose selector matches (an empty selector selects everything in scope). `targetRef(s)` attach
to Gateway API gateways and waypoints, which meshpilot does not run, so such policies select nothing.
https://istio.io/latest/docs/reference/config/security/request_authentication/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

# Istio always normalises these space-delimited claims so `request.auth.claims[scope]` matches one scope.
DEFAULT_SPACE_DELIMITED_CLAIMS = ("scope", "permission")


@dataclass(frozen=True)
class TokenHeader:
    name: str
    prefix: str = ""


@dataclass(frozen=True)
class JwtRule:
    """One `jwtRules[]` entry; `policy` is the RequestAuthentication it came from (for findings)."""

    policy: Resource
    index: int
    issuer: str = ""
    jwks: str = ""
    jwks_uri: str = ""
    audiences: tuple[str, ...] = ()
    from_headers: tuple[TokenHeader, ...] = ()
    from_params: tuple[str, ...] = ()
    from_cookies: tuple[str, ...] = ()
    forward_original_token: bool = False
    output_payload_to_header: str = ""
    output_claim_to_headers: tuple[tuple[str, str], ...] = ()  # (header, claim)
    space_delimited_claims: tuple[str, ...] = ()


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def jwt_rule(policy: Resource, index: int, spec: Mapping[str, Any]) -> JwtRule:
    headers = tuple(TokenHeader(str(h.get("name", "")), str(h.get("prefix") or ""))
                    for h in spec.get("fromHeaders") or [] if isinstance(h, Mapping))
    claims = tuple((str(o.get("header", "")), str(o.get("claim", "")))
                   for o in spec.get("outputClaimToHeaders") or [] if isinstance(o, Mapping))
    return JwtRule(
        policy=policy, index=index,
        issuer=str(spec.get("issuer") or ""),
        jwks=str(spec.get("jwks") or ""),
        jwks_uri=str(spec.get("jwksUri") or spec.get("jwks_uri") or ""),
        audiences=_strings(spec.get("audiences")),
        from_headers=headers,
        from_params=_strings(spec.get("fromParams")),
        from_cookies=_strings(spec.get("fromCookies")),
        forward_original_token=bool(spec.get("forwardOriginalToken")),
        output_payload_to_header=str(spec.get("outputPayloadToHeader") or ""),
        output_claim_to_headers=claims,
        space_delimited_claims=_strings(spec.get("spaceDelimitedClaims")),
    )


def request_authentications_for(snapshot: MeshSnapshot, view: ProxyView) -> list[Resource]:
    """RequestAuthentications selecting `view`: the workload namespace's, then the root namespace's (the
    order istiod looks them up in), each oldest first."""
    root = snapshot.mesh.root_namespace
    out = []
    for ra in snapshot.of_kind("RequestAuthentication"):
        if ra.namespace not in (view.namespace, root) or ra.spec.get("targetRef") or ra.spec.get("targetRefs"):
            continue
        labels = (ra.spec.get("selector") or {}).get("matchLabels") or {}
        if view.matches(dict(labels)):
            out.append(ra)
    return sorted(out, key=lambda ra: ra.namespace != view.namespace)  # stable: keeps age order within each


def jwt_rules_for(snapshot: MeshSnapshot, view: ProxyView) -> list[JwtRule]:
    """Every jwtRule of every policy selecting `view`, in policy order then rule order."""
    return [jwt_rule(ra, i, spec)
            for ra in request_authentications_for(snapshot, view)
            for i, spec in enumerate(ra.spec.get("jwtRules") or []) if isinstance(spec, Mapping)]
