"""RequestAuthentication -> jwt_authn: providers and requirement, payload metadata key shared with RBAC,
claim-to-header, placement (inbound and gateway HCMs, before RBAC, never sidecar outbound), scoping, and
jwksUri failing closed with a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.config.rbac.v3.rbac_pb2 import Principal
from envoy.extensions.filters.http.jwt_authn.v3.config_pb2 import JwtAuthentication
from envoy.extensions.filters.http.rbac.v3.rbac_pb2 import RBAC
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
)

from pilot.model.findings import Severity
from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.sources.memory import resources_from_yaml
from pilot.sources.yaml_files import load_paths
from pilot.translate.generate import LISTENER, Resources, generate_with_findings
from pilot.translate.jwt_authn import CODE_JWKS_URI, UNUSABLE_JWKS

REPO = Path(__file__).resolve().parents[3]
JWT = "envoy.filters.http.jwt_authn"
RATINGS = NodeId.parse("sidecar~127.10.0.12~ratings-v1-0.default~default.svc.cluster.local")
PRODUCTPAGE = NodeId.parse("sidecar~127.10.0.10~productpage-v1-0.default~default.svc.cluster.local")
ROUTER = NodeId.parse("router~127.10.5.1~gw-0.istio-system~istio-system.svc.cluster.local")
JWKS = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "AAAA", "y": "BBBB"}]})
GATEWAY = """
apiVersion: v1
kind: Pod
metadata: {name: gw-0, namespace: istio-system, labels: {istio: ingressgateway}}
status: {podIP: 127.10.5.1}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web-gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: [web.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example.com]
  gateways: [web-gw]
  http: [{route: [{destination: {host: productpage}}]}]
"""


def ra(name: str, rules: list[dict[str, Any]], namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
            "metadata": {"name": name, "namespace": namespace}, "spec": {**spec, "jwtRules": rules}}


def ap_request_principal(principal: str) -> dict[str, Any]:
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "need-jwt", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "ratings"}},
                     "rules": [{"from": [{"source": {"requestPrincipals": [principal]}}]}]}}


def snapshot(*docs: dict[str, Any], extra: str = "", mtls: bool = False) -> MeshSnapshot:
    resources, findings, _ = load_paths([REPO / "policies/bookinfo/mesh.yaml"])
    assert not [f for f in findings if f.is_error]
    text = yaml.safe_dump_all(list(docs)) + (f"---\n{extra}" if extra else "")
    return build_snapshot(resources + resources_from_yaml(text), MeshConfig(workload_mtls=mtls))


def generated(snap: MeshSnapshot, node: NodeId = RATINGS) -> tuple[Resources, list[Any]]:
    return generate_with_findings(snap, snap.proxy_view(node))


def managers(out: Resources, listener: str) -> list[HttpConnectionManager]:
    lis = Listener()
    assert out[LISTENER][listener].Unpack(lis)
    found = []
    for chain in lis.filter_chains:
        for f in chain.filters:
            m = HttpConnectionManager()
            if f.typed_config.Unpack(m):
                found.append(m)
    return found


def jwt_config(m: HttpConnectionManager) -> JwtAuthentication:
    (f,) = [f for f in m.http_filters if f.name == JWT]
    cfg = JwtAuthentication()
    assert f.typed_config.Unpack(cfg)
    return cfg


def test_one_provider_per_rule_with_every_field() -> None:
    rule = {"issuer": "https://issuer.example", "jwks": JWKS, "audiences": ["a1", "a2"],
            "fromHeaders": [{"name": "x-jwt", "prefix": "Token "}], "fromParams": ["tok"], "fromCookies": ["jwt"],
            "forwardOriginalToken": True, "outputPayloadToHeader": "x-payload",
            "outputClaimToHeaders": [{"header": "x-sub", "claim": "sub"}, {"header": "x-grp", "claim": "group"}],
            "spaceDelimitedClaims": ["roles"]}
    out, findings = generated(snapshot(ra("r", [rule], selector={"matchLabels": {"app": "ratings"}})))
    assert not findings
    cfg = jwt_config(managers(out, "127.10.0.12_9080")[0])
    assert list(cfg.providers) == ["origins-0"]
    p = cfg.providers["origins-0"]
    assert p.issuer == "https://issuer.example" and list(p.audiences) == ["a1", "a2"]
    assert p.local_jwks.inline_string == JWKS
    assert [(h.name, h.value_prefix) for h in p.from_headers] == [("x-jwt", "Token ")]
    assert list(p.from_params) == ["tok"] and list(p.from_cookies) == ["jwt"]
    assert p.forward and p.forward_payload_header == "x-payload"
    assert [(c.header_name, c.claim_name) for c in p.claim_to_headers] == [("x-sub", "sub"), ("x-grp", "group")]
    assert list(p.normalize_payload_in_metadata.space_delimited_claims) == ["scope", "permission", "roles"]
    assert cfg.bypass_cors_preflight


def test_defaults_leave_token_location_to_envoy() -> None:
    out, _ = generated(snapshot(ra("r", [{"issuer": "i", "jwks": JWKS}])))
    p = jwt_config(managers(out, "127.10.0.12_9080")[0]).providers["origins-0"]
    assert not p.from_headers and not p.from_params and not p.from_cookies and not p.claim_to_headers
    assert not p.forward and not p.forward_payload_header


def test_requirement_is_any_provider_or_missing_across_root_and_workload_policies() -> None:
    snap = snapshot(ra("mesh", [{"issuer": "root", "jwks": JWKS}], namespace="istio-system"),
                    ra("ns", [{"issuer": "one", "jwks": JWKS}, {"issuer": "two", "jwks": JWKS}]))
    cfg = jwt_config(managers(generated(snap)[0], "127.10.0.12_9080")[0])
    assert {k: v.issuer for k, v in cfg.providers.items()} == {
        "origins-0": "one", "origins-1": "two", "origins-2": "root"}  # istiod's order: workload ns, then root
    (rule,) = cfg.rules
    assert rule.match.prefix == "/"
    anyof = rule.requires.requires_any.requirements
    assert [r.provider_name for r in anyof[:-1]] == ["origins-0", "origins-1", "origins-2"]
    assert anyof[-1].HasField("allow_missing")  # a missing token passes; an invalid one does not


def test_payload_lands_where_rbac_request_principals_look() -> None:
    snap = snapshot(ra("r", [{"issuer": "iss", "jwks": JWKS}]), ap_request_principal("iss/sub"))
    m = managers(generated(snap)[0], "127.10.0.12_9080")[0]
    provider = jwt_config(m).providers["origins-0"]
    rbac = RBAC()
    assert next(f for f in m.http_filters if f.name == "envoy.filters.http.rbac").typed_config.Unpack(rbac)
    metadata = []

    def walk(p: Principal) -> None:
        if p.HasField("metadata"):
            metadata.append(p.metadata)
        for child in [*p.and_ids.ids, *p.or_ids.ids]:
            walk(child)
        if p.HasField("not_id"):
            walk(p.not_id)

    for policy in rbac.rules.policies.values():
        for principal in policy.principals:
            walk(principal)
    assert metadata, "requestPrincipals should become metadata matchers"
    for matcher in metadata:
        assert matcher.filter == JWT
        assert matcher.path[0].key == provider.payload_in_metadata == "payload"


def test_filter_order_jwt_before_rbac_before_router_on_every_inbound_chain() -> None:
    # With a CA, PERMISSIVE gives a TLS and a plaintext chain: both need the filter.
    snap = snapshot(ra("r", [{"issuer": "iss", "jwks": JWKS}]), ap_request_principal("*"), mtls=True)
    hcms = managers(generated(snap)[0], "127.10.0.12_9080")
    assert len(hcms) == 2
    for m in hcms:
        names = [f.name for f in m.http_filters]
        assert names[0] == JWT and names[1] == "envoy.filters.http.rbac" and names[-1] == "envoy.filters.http.router"


def test_never_on_sidecar_outbound_listeners() -> None:
    out, _ = generated(snapshot(ra("r", [{"issuer": "iss", "jwks": JWKS}])))
    for name in out[LISTENER]:
        has_jwt = any(JWT in [f.name for f in m.http_filters] for m in managers(out, name))
        assert has_jwt == (name == "127.10.0.12_9080"), name


def test_scoping_selector_namespace_and_target_ref() -> None:
    rule = [{"issuer": "iss", "jwks": JWKS}]
    cases = [
        (ra("other-app", rule, selector={"matchLabels": {"app": "reviews"}}), False),
        (ra("other-ns", rule, namespace="elsewhere"), False),
        (ra("root-selector", rule, namespace="istio-system", selector={"matchLabels": {"app": "ratings"}}), True),
        (ra("target", rule, targetRef={"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "g"}), False),
        (ra("mine", rule, selector={"matchLabels": {"app": "ratings"}}), True),
    ]
    for doc, applies in cases:
        m = managers(generated(snapshot(doc))[0], "127.10.0.12_9080")[0]
        assert (m.http_filters[0].name == JWT) == applies, doc["metadata"]["name"]
    m = managers(generated(snapshot(cases[-1][0]), PRODUCTPAGE)[0], "127.10.0.10_9080")[0]
    assert JWT not in [f.name for f in m.http_filters]


def test_no_rules_no_filter() -> None:
    out, _ = generated(snapshot(ra("empty", [])))
    assert JWT not in [f.name for f in managers(out, "127.10.0.12_9080")[0].http_filters]


def test_jwks_uri_fails_closed_with_a_warning() -> None:
    out, findings = generated(snapshot(ra("remote", [{"issuer": "iss", "jwksUri": "https://keys.example/jwks"}])))
    p = jwt_config(managers(out, "127.10.0.12_9080")[0]).providers["origins-0"]
    assert p.local_jwks.inline_string == UNUSABLE_JWKS and not p.HasField("remote_jwks")
    (finding,) = findings
    assert finding.code == CODE_JWKS_URI and finding.severity is Severity.WARNING
    assert finding.field == "spec.jwtRules[0].jwksUri" and "not supported" in finding.message


def test_gateway_connection_managers_get_the_filter() -> None:
    snap = snapshot(ra("edge", [{"issuer": "iss", "jwks": JWKS}], namespace="istio-system",
                       selector={"matchLabels": {"istio": "ingressgateway"}}), extra=GATEWAY)
    (m,) = managers(generated(snap, ROUTER)[0], "0.0.0.0_8080")
    assert m.http_filters[0].name == JWT
    assert jwt_config(m).providers["origins-0"].issuer == "iss"
