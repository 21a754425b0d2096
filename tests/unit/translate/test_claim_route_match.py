"""VirtualService `@request.auth.claims` matches -> route dynamic_metadata matchers, as istiod builds them
(route.go translateMetadataMatch, pkg/jwt routing claims), and the gateway jwt_authn re-picking the route."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt
from envoy.type.matcher.v3.metadata_pb2 import MetadataMatcher

from pilot.model.jwt_claims import routing_claim
from pilot.model.proxy import NodeId
from pilot.model.requestauthn import jwt_rules_for
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.translate.generate import generate
from pilot.translate.jwt_authn import jwt_authentication
from pilot.translate.resource_types import LISTENER
from pilot.translate.route_match import route_match


def y(text: str) -> Any:
    return yaml.safe_load(text)


@pytest.mark.parametrize(("key", "claims"), [
    ("@request.auth.claims.group", ("group",)),
    ("@request.auth.claims.key1.KEY2", ("key1", "KEY2")),  # dots nest; claim names keep their case
    ("@Request.Auth.Claims.sub", ("sub",)),  # the prefix is case-insensitive
    ("@request.auth.claims[group]", ("group",)),
    ("@request.auth.claims[a][b]", ("a", "b")),
    ("@request.auth.claims[test-issuer@istio.io][k]", ("test-issuer@istio.io", "k")),
    ("@request.auth.claims.[key1]", ("[key1]",)),  # a dot first: dots separate
    ("@request.auth.claims", None), ("@request.auth.claims.", None), ("@request.auth.claims[]", None),
    ("@request.auth.claimskey", None), ("@request.auth.claims-abc", None), ("x-user", None),
])
def test_routing_claim_keys(key: str, claims: tuple[str, ...] | None) -> None:
    assert routing_claim(key) == claims


def _path(mm: MetadataMatcher) -> list[str]:
    return [seg.key for seg in mm.path]


def _string_matches(mm: MetadataMatcher) -> tuple[Any, Any]:
    """(list one_of string matcher, plain string matcher) of istiod's OR."""
    either = mm.value.or_match.value_matchers
    assert [v.WhichOneof("match_pattern") for v in either] == ["list_match", "string_match"]
    return either[0].list_match.one_of.string_match, either[1].string_match


@pytest.mark.parametrize(("sm", "field", "value"), [
    ("{exact: admin}", "exact", "admin"), ("{prefix: adm}", "prefix", "adm"),
    ("{regex: 'ad.*n'}", "safe_regex", "ad.*n")])
def test_claim_string_matches(sm: str, field: str, value: str) -> None:
    m = route_match(y(f"{{headers: {{'@request.auth.claims.group': {sm}}}}}"))
    assert not m.headers and len(m.dynamic_metadata) == 1
    mm = m.dynamic_metadata[0]
    assert mm.filter == "envoy.filters.http.jwt_authn" and _path(mm) == ["payload", "group"]
    assert not mm.invert
    for got in _string_matches(mm):
        assert (got.safe_regex.regex if field == "safe_regex" else getattr(got, field)) == value


def test_nested_claim_walks_the_payload() -> None:
    mm = route_match(y("{headers: {'@request.auth.claims[org][team]': {exact: core}}}")).dynamic_metadata[0]
    assert _path(mm) == ["payload", "org", "team"]


def test_list_claim_like_groups_matches_any_element() -> None:
    """`groups: [admin, dev]`: the list branch of the OR matches one element, the string branch a plain claim."""
    mm = route_match(y("{headers: {'@request.auth.claims.groups': {exact: admin}}}")).dynamic_metadata[0]
    in_list, plain = _string_matches(mm)
    assert in_list.exact == "admin" and plain.exact == "admin"


def test_without_headers_claim_is_an_inverted_metadata_match() -> None:
    m = route_match(y("{withoutHeaders: {'@request.auth.claims.group': {exact: guest}}, headers: {x-a: {exact: b}}}"))
    assert [h.name for h in m.headers] == ["x-a"]
    (mm,) = m.dynamic_metadata
    assert mm.invert and _string_matches(mm)[1].exact == "guest"


def test_empty_claim_match_means_present() -> None:
    for sm in ("{}", "{regex: '*'}"):
        mm = route_match(y(f"{{headers: {{'@request.auth.claims.sub': {sm}}}}}")).dynamic_metadata[0]
        assert mm.value.present_match is True


def test_claim_matches_are_ordered_by_key_and_headers_stay_headers() -> None:
    m = route_match(y("{headers: {'@request.auth.claims.b': {exact: '1'}, '@request.auth.claims.a': {exact: '2'},"
                      " '@request.auth.claimsx': {exact: '3'}}}"))
    assert [_path(mm)[1] for mm in m.dynamic_metadata] == ["a", "b"]
    assert [h.name for h in m.headers] == ["@request.auth.claimsx"]


SIDECAR = "sidecar~10.0.0.1~app-0.default~default.svc.cluster.local"
GATEWAY_MESH = """
apiVersion: v1
kind: Pod
metadata: {name: gw, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: istio-proxy, image: none}]}
status: {podIP: 10.0.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: app-0, namespace: default, labels: {app: app}}
spec: {containers: [{name: app, image: none}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec: {selector: {app: app}, ports: [{name: http, port: 9080}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: all, namespace: istio-system}
spec:
  jwtRules: [{issuer: https://issuer.test, jwks: '{"keys": []}'}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: [edge.test]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: default}
spec:
  hosts: [edge.test]
  gateways: [edge]
  http:
  - match: [{headers: {"@request.auth.claims.group": {exact: admin}}}]
    route: [{destination: {host: app}}]
  - route: [{destination: {host: app}}]
"""


def _jwt_providers(node: str) -> list[jwt.JwtProvider]:
    from envoy.config.listener.v3.listener_pb2 import Listener
    from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
        HttpConnectionManager,
    )
    snap = build_snapshot(resources_from_yaml(GATEWAY_MESH))
    out = generate(snap, snap.proxy_view(NodeId.parse(node)))
    providers = []
    for packed in out.get(LISTENER, {}).values():
        lis = Listener()
        packed.Unpack(lis)
        for chain in lis.filter_chains:
            for f in chain.filters:
                if f.typed_config.Is(HttpConnectionManager.DESCRIPTOR):
                    hcm = HttpConnectionManager()
                    f.typed_config.Unpack(hcm)
                    for hf in hcm.http_filters:
                        if hf.name == "envoy.filters.http.jwt_authn":
                            config = jwt.JwtAuthentication()
                            hf.typed_config.Unpack(config)
                            providers.extend(config.providers.values())
    return providers


def test_gateway_jwt_authn_clears_the_route_cache_sidecars_do_not() -> None:
    """jwt_authn looks the route up before it has a payload; gateways must re-pick it for claim matches."""
    snap = build_snapshot(resources_from_yaml(GATEWAY_MESH))
    sidecar_rules = jwt_rules_for(snap, snap.proxy_view(NodeId.parse(SIDECAR)))
    sidecar = jwt_authentication(sidecar_rules, [])
    assert sidecar is not None and not any(p.clear_route_cache for p in sidecar.providers.values())
    gateway = _jwt_providers("router~10.0.0.9~gw.istio-system~istio-system.svc.cluster.local")
    assert gateway and all(p.clear_route_cache for p in gateway)
