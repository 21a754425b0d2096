"""The simulator walks proxies that carry jwt_authn: no crash, the request counts as token-less (allowed
by RequestAuthentication alone, denied where requestPrincipals are required), and it says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pilot.model.snapshot import MeshSnapshot, build_snapshot
from pilot.simulate.engine import simulate
from pilot.simulate.inbound import JWT_NOTE
from pilot.simulate.request import Request
from pilot.sources.memory import resources_from_yaml
from pilot.sources.yaml_files import load_paths

REPO = Path(__file__).resolve().parents[3]
JWKS = '{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "AAAA", "y": "BBBB"}]}'


def _snapshot(require_principal: bool) -> MeshSnapshot:
    docs: list[dict[str, Any]] = [{
        "apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
        "metadata": {"name": "ratings-jwt", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "ratings"}}, "jwtRules": [{"issuer": "iss", "jwks": JWKS}]}}]
    if require_principal:
        docs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                     "metadata": {"name": "need-jwt", "namespace": "default"},
                     "spec": {"selector": {"matchLabels": {"app": "ratings"}},
                              "rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]}})
    resources, findings, _ = load_paths([REPO / "policies/bookinfo/mesh.yaml"])
    assert not [f for f in findings if f.is_error]
    return build_snapshot(resources + resources_from_yaml(yaml.safe_dump_all(docs)))


def _notes(result: Any) -> list[str]:
    return [*result.notes, *(n for d in result.destinations for n in d.notes)]


def test_request_authentication_alone_allows_and_notes_it() -> None:
    result = simulate(_snapshot(False), "productpage-v1-0", Request.from_url("http://ratings:9080/ratings/0"))
    assert result.ok and result.status == 200, result
    assert JWT_NOTE in _notes(result)


def test_required_request_principal_is_denied_without_a_simulated_token() -> None:
    result = simulate(_snapshot(True), "productpage-v1-0", Request.from_url("http://ratings:9080/ratings/0"))
    assert result.allowed is False and result.status == 403, result
    assert result.policy == "(no ALLOW policy matched)", result.policy
    assert JWT_NOTE in _notes(result)
