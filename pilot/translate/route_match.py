"""VirtualService HTTPMatchRequest -> Envoy RouteMatch.

https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest
Fields decided at generation time per proxy (sourceLabels, sourceNamespace, port, gateways) never
reach Envoy: `applies_to` filters the match blocks first.

A `headers`/`withoutHeaders` key `@request.auth.claims...` matches a claim of the validated JWT: a route
`dynamic_metadata` matcher on the jwt_authn payload (filter `envoy.filters.http.jwt_authn`, key `payload`,
then the claim path). Like istiod, a value matches a string claim or any element of a list claim (e.g.
`groups: [admin, dev]`): an OR of a list matcher and a string matcher.
https://istio.io/latest/docs/tasks/security/authentication/jwt-route/
https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/matcher/v3/metadata.proto
Sidecar outbound routes get the same matcher, as from istiod: no jwt_authn runs there, so the metadata is
missing and the match never holds (an inverted one, from `withoutHeaders`, always holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from envoy.type.matcher.v3.metadata_pb2 import MetadataMatcher
from envoy.type.matcher.v3.value_pb2 import ListMatcher, OrMatcher, ValueMatcher

from pilot.model.jwt_claims import routing_claim
from pilot.model.proxy import ProxyView
from pilot.translate.rbac_matchers import JWT_FILTER, JWT_PAYLOAD


def applies_to(match: Mapping[str, Any], view: ProxyView, port: int, gateway: str = "mesh") -> bool:
    if match.get("sourceLabels") and not view.matches(dict(match["sourceLabels"])):
        return False
    if match.get("sourceNamespace") and match["sourceNamespace"] != view.namespace:
        return False
    if match.get("port") and port and int(match["port"]) != port:
        return False
    gws = [str(g) for g in match.get("gateways") or []]
    # A bare gateway name is relative to the VirtualService's namespace; the name alone is compared here
    # (the VirtualService was already bound to this gateway by its namespaced name).
    name = gateway.split("/")[-1]
    return not gws or gateway in gws or any(g == name or g.endswith("/" + name) for g in gws)


def string_matcher(sm: Mapping[str, Any], ignore_case: bool = False) -> string_pb2.StringMatcher:
    m = string_pb2.StringMatcher(ignore_case=ignore_case)
    if "exact" in sm:
        m.exact = str(sm["exact"])
    elif "prefix" in sm:
        m.prefix = str(sm["prefix"])
    elif "regex" in sm:
        m.safe_regex.CopyFrom(regex_pb2.RegexMatcher(regex=str(sm["regex"])))
    return m


def is_presence_match(sm: Mapping[str, Any] | None) -> bool:
    """Istio: an empty StringMatch, or regex "*" (not RE2, a wildcard), means "is present"."""
    return not sm or sm.get("regex") == "*" or not any(k in sm for k in ("exact", "prefix", "regex"))


def header_matcher(name: str, sm: Mapping[str, Any] | None, invert: bool = False) -> rc.HeaderMatcher:
    hm = rc.HeaderMatcher(name=name, invert_match=invert)
    if is_presence_match(sm):
        hm.present_match = True
    else:
        hm.string_match.CopyFrom(string_matcher(sm or {}))
        # withoutHeaders {x: {exact: v}} must also match requests that lack x; a missing header
        # would otherwise fail the inverted matcher. Not for presence: a missing header read as ""
        # would count as present.
        hm.treat_missing_header_as_empty = invert
    return hm


def claim_value_matcher(sm: Mapping[str, Any] | None) -> ValueMatcher:
    if is_presence_match(sm):
        # istiod would put an empty StringMatcher here, which Envoy rejects; an empty StringMatch means
        # "present" for headers, so it means "the claim is present" here.
        return ValueMatcher(present_match=True)
    one = ValueMatcher(string_match=string_matcher(sm or {}))
    return ValueMatcher(or_match=OrMatcher(value_matchers=[ValueMatcher(list_match=ListMatcher(one_of=one)), one]))


def claim_matcher(claims: Sequence[str], sm: Mapping[str, Any] | None, invert: bool = False) -> MetadataMatcher:
    mm = MetadataMatcher(filter=JWT_FILTER, value=claim_value_matcher(sm), invert=invert)
    for key in (JWT_PAYLOAD, *claims):
        mm.path.add().key = key
    return mm


def _add_header_match(rm: rc.RouteMatch, name: str, sm: Mapping[str, Any] | None, invert: bool) -> None:
    claims = routing_claim(name)
    if claims is not None:
        rm.dynamic_metadata.append(claim_matcher(claims, sm, invert))
    else:
        rm.headers.append(header_matcher(name.lower(), sm, invert))


def route_match(match: Mapping[str, Any] | None) -> rc.RouteMatch:
    rm = rc.RouteMatch()
    match = match or {}
    uri = match.get("uri") or {}
    if "exact" in uri:
        rm.path = str(uri["exact"])
    elif "regex" in uri:
        rm.safe_regex.CopyFrom(regex_pb2.RegexMatcher(regex=str(uri["regex"])))
    else:
        rm.prefix = str(uri.get("prefix", "/"))
    rm.case_sensitive.value = not match.get("ignoreUriCase")
    for pseudo, field in ((":scheme", "scheme"), (":method", "method"), (":authority", "authority")):
        if match.get(field):
            rm.headers.append(header_matcher(pseudo, match[field]))
    for name, sm in sorted((match.get("headers") or {}).items()):
        _add_header_match(rm, str(name), sm, invert=False)
    for name, sm in sorted((match.get("withoutHeaders") or {}).items()):
        _add_header_match(rm, str(name), sm, invert=True)
    for name, sm in sorted((match.get("queryParams") or {}).items()):
        qp = rc.QueryParameterMatcher(name=str(name))
        if is_presence_match(sm):
            qp.present_match = True
        else:
            qp.string_match.CopyFrom(string_matcher(sm))
        rm.query_parameters.append(qp)
    return rm


def is_catch_all(r: rc.Route) -> bool:
    """Istio stops generating routes after the first one that matches everything (IsCatchAllRoute)."""
    m = r.match
    which = m.WhichOneof("path_specifier")
    path_all = ((which == "prefix" and m.prefix == "/") or (which == "safe_regex" and m.safe_regex.regex == ".*")
                or (which == "path_separated_prefix" and m.path_separated_prefix == "/"))
    return path_all and not m.headers and not m.query_parameters and not m.dynamic_metadata
