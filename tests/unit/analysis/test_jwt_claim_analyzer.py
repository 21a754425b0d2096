"""IST0149: claim routing through a gateway whose pods have no RequestAuthentication."""

from __future__ import annotations

import pytest

from pilot.analysis import analyze
from pilot.analysis.jwt_claims import claim_keys
from pilot.model.findings import Finding
from pilot.model.snapshot import build_snapshot
from pilot.sources.memory import resources_from_yaml

MESH = """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-0, namespace: default, labels: {app: reviews}}
spec: {containers: [{name: app, image: none}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: ingress-0, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: istio-proxy, image: none}]}
status: {podIP: 10.0.0.9}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [edge.test]}]
"""


def vs(match: str, gateways: str = "[edge]") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: claims, namespace: default}}
spec:
  hosts: [edge.test]
  gateways: {gateways}
  http:
  - match: [{match}]
    route: [{{destination: {{host: reviews}}}}]
  - route: [{{destination: {{host: reviews}}}}]
"""


def request_authn(namespace: str, selector: str = "") -> str:
    sel = f"\n  selector: {{matchLabels: {selector}}}" if selector else ""
    return f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: {namespace}}}
spec:{sel}
  jwtRules: [{{issuer: https://issuer.test, jwks: '{{"keys": []}}'}}]
"""


def ist0149(*docs: str) -> list[Finding]:
    snapshot = build_snapshot(resources_from_yaml("\n---\n".join([MESH, *docs])))
    return [f for f in analyze(snapshot) if f.code == "IST0149"]


GROUPS = '{headers: {"@request.auth.claims.groups": {exact: admin}}}'


def test_claim_routing_without_request_authentication_is_reported_with_istios_message() -> None:
    (f,) = ist0149(vs(GROUPS))
    assert (f.kind, f.namespace, f.name, f.field) == ("VirtualService", "default", "claims", "spec.gateways[0]")
    assert f.is_error
    assert f.message == (
        "The virtual service uses the JWT claim based routing (key: @request.auth.claims.groups) but found no "
        "request authentication for the gateway (default/edge) pod (ingress-0). The request authentication must "
        "first be applied for the gateway pods to validate the JWT token and make the claims available for routing.")


@pytest.mark.parametrize("match", [
    '{withoutHeaders: {"@request.auth.claims[org][team]": {exact: core}}}',
    '{headers: {x-env: {exact: a}, "@request.auth.claims[groups]": {prefix: adm}}}',
])
def test_bracket_nested_and_without_headers_keys_count(match: str) -> None:
    assert len(ist0149(vs(match))) == 1


@pytest.mark.parametrize("policy", [
    request_authn("istio-system"),  # root namespace, no selector: every pod
    request_authn("istio-system", "{istio: ingressgateway}"),  # the gateway pod's own namespace, selected
])
def test_a_request_authentication_selecting_the_gateway_pod_satisfies_it(policy: str) -> None:
    assert ist0149(vs(GROUPS), policy) == []


@pytest.mark.parametrize("policy", [
    request_authn("default"),  # neither the root nor the gateway pod's namespace
    request_authn("istio-system", "{app: other}"),  # selects other pods
])
def test_request_authentications_that_do_not_select_the_gateway_pod_do_not_count(policy: str) -> None:
    assert len(ist0149(vs(GROUPS), policy)) == 1


@pytest.mark.parametrize(("match", "gateways"), [
    ('{headers: {x-user: {exact: admin}}}', "[edge]"),  # a plain header: no claim routing
    ('{headers: {"@request.auth.claims": {exact: admin}}}', "[edge]"),  # no claim named: a header
    (GROUPS, "[nosuch]"),  # missing gateway: IST0101's business
    (GROUPS, "[mesh]"),  # sidecars only: validation rejects that, the analyzer has no gateway pods to check
])
def test_no_finding_without_claim_routing_through_an_existing_gateway(match: str, gateways: str) -> None:
    assert ist0149(vs(match, gateways)) == []


def test_each_unprotected_gateway_pod_is_reported() -> None:
    second_pod = """
apiVersion: v1
kind: Pod
metadata: {name: ingress-1, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: istio-proxy, image: none}]}
status: {podIP: 10.0.0.10}
"""
    assert sorted(f.message.split("pod (")[1].split(")")[0] for f in ist0149(vs(GROUPS), second_pod)) == [
        "ingress-0", "ingress-1"]


def test_claim_keys_lists_headers_then_without_headers() -> None:
    (res,) = resources_from_yaml(vs('{headers: {"@request.auth.claims.b": {}, x: {}}, '
                                    'withoutHeaders: {"@request.auth.claims.a": {}}}'))
    assert list(claim_keys(res)) == ["@request.auth.claims.b", "@request.auth.claims.a"]
