"""RequestAuthentication through real Envoy sidecars, with ES256 tokens signed here (hand-built compact JWS).

One mesh, plaintext (no CA needed for JWT):
- ratings: RequestAuthentication with an inline JWKS and outputClaimToHeaders sub -> x-jwt-sub;
- details: the same RequestAuthentication plus AuthorizationPolicy ALLOW requestPrincipals [<iss>/alice];
- reviews: a RequestAuthentication with a jwksUri (unsupported: that rule fails closed);
- productpage is the client, through its sidecar's egress listener;
- an ingress gateway (RequestAuthentication in the root namespace, selecting it) routes edge.example.com to
  productpage, whose sidecar has no JWT policy, or to ratings when the token's claims say so
  (VirtualService `@request.auth.claims` matches).
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from pilot.testing.mesh import LoopbackMesh, PodSpec
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e

ISSUER = "https://issuer.meshpilot.test"
KID = "test-key-1"
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
FORGING_KEY = ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks(key: ec.EllipticCurvePrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    return json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": KID, "alg": "ES256", "use": "sig",
                                 "x": _b64(numbers.x.to_bytes(32, "big")), "y": _b64(numbers.y.to_bytes(32, "big"))}]})


def token(sub: str = "alice", iss: str = ISSUER, key: ec.EllipticCurvePrivateKey = SIGNING_KEY,
          expires_in: int = 600, **claims: Any) -> str:
    """A compact JWS (RFC 7515) with ES256: the signature is raw r || s, 32 bytes each (RFC 7518 §3.4)."""
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT", "kid": KID}
    payload = {"iss": iss, "sub": sub, "iat": now, "exp": now + expires_in, **claims}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _policies() -> list[dict[str, Any]]:
    def ra(app: str, rule: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
                "metadata": {"name": f"{app}-jwt", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": app}}, "jwtRules": [rule]}}

    inline = {"issuer": ISSUER, "jwks": jwks(SIGNING_KEY),
              "outputClaimToHeaders": [{"header": "x-jwt-sub", "claim": "sub"}]}
    return [
        ra("ratings", inline),
        ra("details", inline),
        ra("reviews", {"issuer": ISSUER, "jwksUri": "https://issuer.meshpilot.test/jwks.json"}),
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": "details-alice", "namespace": "default"},
         "spec": {"selector": {"matchLabels": {"app": "details"}}, "action": "ALLOW",
                  "rules": [{"from": [{"source": {"requestPrincipals": [f"{ISSUER}/alice"]}}]}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
         "metadata": {"name": "edge-jwt", "namespace": "istio-system"},
         "spec": {"selector": {"matchLabels": {"istio": "ingressgateway"}}, "jwtRules": [
             {"issuer": ISSUER, "jwks": jwks(SIGNING_KEY), "forwardOriginalToken": True,
              "outputClaimToHeaders": [{"header": "x-edge-sub", "claim": "sub"}]}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": "edge-deny-internal", "namespace": "istio-system"},
         "spec": {"selector": {"matchLabels": {"istio": "ingressgateway"}}, "action": "DENY",
                  "rules": [{"to": [{"operation": {"paths": ["/internal*"]}}]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "edge", "namespace": "default"},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                               "hosts": ["edge.example.com"]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "edge", "namespace": "default"},
         "spec": {"hosts": ["edge.example.com"], "gateways": ["edge"], "http": [
             # claim routing: a list claim holding "admin", or a nested claim, goes to ratings
             {"match": [{"headers": {"@request.auth.claims.groups": {"exact": "admin"}}},
                        {"headers": {"@request.auth.claims[org][team]": {"prefix": "co"}}}],
              "route": [{"destination": {"host": "ratings"}}]},
             {"route": [{"destination": {"host": "productpage"}}]}]}},
    ]


@dataclass
class JwtMesh:
    client: MeshClient
    gateway: PodSpec


@pytest.fixture(scope="module")
def jwt_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JwtMesh]:
    mesh = LoopbackMesh.build([("productpage", "v1"), ("ratings", "v1"), ("details", "v1"), ("reviews", "v1")])
    gateway = mesh.add_gateway(service_ports=((80, 8080),))
    cfg = tmp_path_factory.mktemp("jwt-config")
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    (cfg / "jwt.yaml").write_text(yaml.safe_dump_all(_policies()))
    runner = MeshRunner(cfg, mesh)
    with runner.running():
        c = MeshClient(mesh.pod("productpage"))
        yield JwtMesh(c, gateway)
        c.close()
        for pod in [*mesh.pods, gateway]:
            assert runner.envoy_stat(pod, "update_rejected") == 0, f"{pod.name} rejected config"


@pytest.fixture
def client(jwt_mesh: JwtMesh) -> MeshClient:
    return jwt_mesh.client


def _get(client: MeshClient, service: str, bearer: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"authorization": f"Bearer {bearer}"} if bearer is not None else {}
    status, _headers, body = client.request(service, "/", headers)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"body": body.decode(errors="replace")}


def test_missing_token_passes_and_invalid_tokens_get_401(client: MeshClient) -> None:
    assert _get(client, "ratings")[0] == 200
    assert _get(client, "ratings", token(key=FORGING_KEY))[0] == 401
    assert _get(client, "ratings", token(expires_in=-3600))[0] == 401
    assert _get(client, "ratings", token(iss="https://someone-else.test"))[0] == 401
    assert _get(client, "ratings", "not.a.jwt")[0] == 401


def test_valid_token_passes_and_claim_reaches_the_app(client: MeshClient) -> None:
    status, body = _get(client, "ratings", token(sub="carol"))
    assert status == 200, body
    assert body["headers"].get("x-jwt-sub") == "carol"
    # forwardOriginalToken is false: the sidecar strips the verified token before the app.
    assert "authorization" not in body["headers"]


def test_request_principals_need_the_right_subject(client: MeshClient) -> None:
    assert _get(client, "details")[0] == 403
    assert _get(client, "details", token(sub="bob"))[0] == 403
    assert _get(client, "details", token(key=FORGING_KEY))[0] == 401  # jwt_authn runs before RBAC
    status, body = _get(client, "details", token(sub="alice"))
    assert status == 200, body
    assert body["service"] == "details"


def test_jwks_uri_rule_fails_closed(client: MeshClient) -> None:
    assert _get(client, "reviews")[0] == 200
    assert _get(client, "reviews", token())[0] == 401


def _edge_get(gateway: PodSpec, bearer: str | None = None, path: str = "/from-edge") -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(gateway.ip, 8080, timeout=5)
    try:
        headers = {"host": "edge.example.com", **({"authorization": f"Bearer {bearer}"} if bearer else {})}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(body)
    except ValueError:
        return resp.status, {}


def test_gateway_enforces_authorization_policies_that_select_it(jwt_mesh: JwtMesh) -> None:
    gw = jwt_mesh.gateway
    assert _edge_get(gw, path="/internal/metrics")[0] == 403
    assert _edge_get(gw, path="/public")[0] == 200


def test_gateway_validates_tokens_and_passes_claims_on(jwt_mesh: JwtMesh) -> None:
    gw = jwt_mesh.gateway
    status, body = _edge_get(gw)
    assert status == 200 and body["service"] == "productpage", body
    assert _edge_get(gw, token(key=FORGING_KEY))[0] == 401
    good = token(sub="dave")
    status, body = _edge_get(gw, good)
    assert status == 200, body
    assert body["headers"].get("x-edge-sub") == "dave"
    assert body["headers"].get("authorization") == f"Bearer {good}"  # forwardOriginalToken: true


def test_gateway_routes_on_validated_claims(jwt_mesh: JwtMesh) -> None:
    gw = jwt_mesh.gateway
    for claims in ({"groups": ["dev", "admin"]}, {"groups": "admin"}, {"org": {"team": "core"}}):
        status, body = _edge_get(gw, token(**claims))
        assert status == 200 and body["service"] == "ratings", (claims, body)
    for claims in ({"groups": ["dev"]}, {"org": {"team": "edge"}}, {"org": "core"}, {}):
        status, body = _edge_get(gw, token(**claims))
        assert status == 200 and body["service"] == "productpage", (claims, body)
    status, body = _edge_get(gw)  # no token: no claims, the default route
    assert status == 200 and body["service"] == "productpage", body
    # The claim must come from a verified token: a forged one is refused before routing.
    assert _edge_get(gw, token(key=FORGING_KEY, groups=["admin"]))[0] == 401
