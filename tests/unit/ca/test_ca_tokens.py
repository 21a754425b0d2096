from __future__ import annotations

import base64
import json
import stat

import pytest

from pilot.ca.proxy_auth import authenticate_proxy
from pilot.ca.tokens import (
    CredentialError,
    Refusal,
    TokenClaims,
    TokenIssuer,
    bearer_metadata,
    check_node_credential,
    token_from_metadata,
)

KEY = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer(clock) -> TokenIssuer:
    return TokenIssuer(KEY, clock=clock)


def refusal(fn, *args) -> Refusal:
    with pytest.raises(CredentialError) as info:
        fn(*args)
    return info.value.reason


def test_issue_then_verify_returns_bound_claims(issuer, clock):
    token = issuer.issue("default", "bookinfo-reviews", "reviews-v1-0", ttl_s=3600)
    assert issuer.verify(token) == TokenClaims(
        "default", "bookinfo-reviews", "reviews-v1-0", int(clock.t) + 3600
    )


def test_expired_token_refused(issuer, clock):
    token = issuer.issue("default", "sa", "pod", ttl_s=60)
    clock.t += 59
    issuer.verify(token)
    clock.t += 1
    assert refusal(issuer.verify, token) is Refusal.EXPIRED


def test_forged_claims_and_foreign_key_refused(issuer):
    token = issuer.issue("default", "sa", "pod", ttl_s=60)
    prefix, body, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["ns"] = "kube-system"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert refusal(issuer.verify, f"{prefix}.{forged_body}.{mac}") is Refusal.BAD_SIGNATURE
    other = TokenIssuer(b"x" * 32).issue("default", "sa", "pod", ttl_s=60)
    assert refusal(issuer.verify, other) is Refusal.BAD_SIGNATURE
    flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    assert refusal(issuer.verify, f"{prefix}.{body}.{flipped}") is Refusal.BAD_SIGNATURE
    # Stray characters are not skipped: exactly one spelling of a token verifies.
    assert refusal(issuer.verify, f"{prefix}.{body}.{mac[:10]}!!!!{mac[10:]}") is Refusal.MALFORMED
    assert refusal(issuer.verify, f"{prefix}.{body}!.{mac}") is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize(
    "token", ["", "garbage", "mp1.a", "jwt.a.b", "mp1.a.b.c", "mp1.a.b" + "x" * 3000, "mp1.é.x"]
)
def test_malformed_tokens_refused(issuer, token):
    assert refusal(issuer.verify, token) is Refusal.MALFORMED


def test_validly_signed_but_incomplete_claims_are_malformed(issuer):
    # Signed with the right key (as a buggy issuer could) but missing "pod": never a partial identity.
    body = base64.urlsafe_b64encode(b'{"ns":"a","sa":"b","exp":9999999999}').rstrip(b"=").decode()
    signed = f"mp1.{body}"
    mac = base64.urlsafe_b64encode(issuer._mac(signed)).rstrip(b"=").decode()
    assert refusal(issuer.verify, f"{signed}.{mac}") is Refusal.MALFORMED


def test_short_key_and_bad_issue_arguments_refused():
    with pytest.raises(ValueError):
        TokenIssuer(b"short")
    with pytest.raises(ValueError):
        TokenIssuer(KEY).issue("ns", "sa", "pod", ttl_s=0)
    with pytest.raises(ValueError):
        TokenIssuer(KEY).issue("ns", "", "pod", ttl_s=10)


@pytest.mark.parametrize(
    ("ns", "pod", "registry_sa", "expected"),
    [
        ("default", "reviews-v1-0", "reviews", None),
        ("other", "reviews-v1-0", "reviews", Refusal.NAMESPACE_MISMATCH),
        ("default", "ratings-v1-0", "reviews", Refusal.POD_MISMATCH),
        ("default", "reviews-v1-0", None, Refusal.UNKNOWN_POD),
        ("default", "reviews-v1-0", "ratings", Refusal.SERVICE_ACCOUNT_MISMATCH),
    ],
)
def test_check_node_credential(ns, pod, registry_sa, expected):
    claims = TokenClaims("default", "reviews", "reviews-v1-0", exp=0)
    assert check_node_credential(claims, ns, pod, registry_sa) == expected


def test_metadata_parsing():
    assert token_from_metadata([bearer_metadata("tok")]) == "tok"
    assert token_from_metadata([("Authorization", b"Bearer tok"), ("x", "y")]) == "tok"
    assert refusal(token_from_metadata, None) is Refusal.MISSING
    assert refusal(token_from_metadata, [("x-other", "Bearer tok")]) is Refusal.MISSING
    assert refusal(token_from_metadata, [("authorization", "Basic dXNlcg==")]) is Refusal.MALFORMED
    assert refusal(token_from_metadata, [bearer_metadata("a"), bearer_metadata("b")]) is Refusal.MALFORMED


def test_authenticate_proxy_end_to_end(issuer):
    pods = {("default", "reviews-v1-0"): "reviews", ("default", "ratings-v1-0"): "ratings"}

    def auth(metadata, ns, pod):
        return authenticate_proxy(
            issuer, metadata, node_ns=ns, node_pod=pod, lookup_sa=lambda n, p: pods.get((n, p))
        )

    md = [bearer_metadata(issuer.issue("default", "reviews", "reviews-v1-0", ttl_s=60))]
    assert auth(md, "default", "reviews-v1-0").sa == "reviews"
    # The same (valid) token presented by another node is refused: a stolen token names its pod.
    assert refusal(auth, md, "default", "ratings-v1-0") is Refusal.POD_MISMATCH
    assert refusal(auth, [], "default", "reviews-v1-0") is Refusal.MISSING
    # The registry moved the pod to another service account after the token was issued.
    pods[("default", "reviews-v1-0")] = "ratings"
    assert refusal(auth, md, "default", "reviews-v1-0") is Refusal.SERVICE_ACCOUNT_MISMATCH


def test_key_created_once_in_ca_dir_with_0600(tmp_path, clock):
    first = TokenIssuer.load_or_create(tmp_path / "ca", clock=clock)
    token = first.issue("default", "sa", "pod", ttl_s=60)
    assert stat.S_IMODE((tmp_path / "ca" / "token-key").stat().st_mode) == 0o600
    second = TokenIssuer.load_or_create(tmp_path / "ca", clock=clock)
    assert second.verify(token).pod == "pod"
