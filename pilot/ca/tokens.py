"""Proxy credentials: short tokens the control plane signs and ``pilot bootstrap`` puts into each sidecar's
bootstrap, bound to the proxy's namespace, service account and pod.

Envoy sends the token on its ADS stream as gRPC metadata ``authorization: Bearer <token>``: the bootstrap
sets it in ``ads_config.grpc_services[0].initial_metadata`` (see ``AUTHORIZATION_METADATA_KEY`` and
``bearer_metadata``). It plays the role of Istio's projected service-account JWT (audience ``istio-ca``),
which istiod checks with a TokenReview and then matches against the node's claimed namespace and service
account (pilot/pkg/xds/auth.go); we sign it ourselves so no API server is needed.

Wire format: ``mp1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "mp1." + claims part))>``. The MAC
is checked (in constant time) before the JSON is parsed, so unauthenticated input never reaches the parser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pilot.ca.files import PRIVATE_MODE, dir_lock, warn_if_exposed, write_atomic

TOKEN_PREFIX = "mp1"
TOKEN_KEY_FILE = "token-key"
MIN_KEY_BYTES = 32
MAX_TOKEN_CHARS = 2048  # far above any real token; bounds work done on hostile input
AUTHORIZATION_METADATA_KEY = "authorization"  # gRPC metadata keys are lower-case
BEARER_PREFIX = "Bearer "


class Refusal(StrEnum):
    """Why a proxy's stream was refused; a small fixed set, so it can label a metric."""

    MISSING = "missing_credential"
    MALFORMED = "malformed_credential"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NAMESPACE_MISMATCH = "namespace_mismatch"
    POD_MISMATCH = "pod_mismatch"
    UNKNOWN_POD = "unknown_pod"
    SERVICE_ACCOUNT_MISMATCH = "service_account_mismatch"


class CredentialError(Exception):
    """A credential was refused; ``reason`` is for metrics and logs, never detailed back to the client."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class TokenClaims:
    ns: str
    sa: str
    pod: str
    exp: int  # Unix seconds


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        # validate=True: the default silently skips stray characters, which would let many strings
        # verify as one token.
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CredentialError(Refusal.MALFORMED, "bad base64") from exc


class TokenIssuer:
    """Signs and verifies proxy tokens with one secret key (kept in the CA dir, see ``load_or_create``)."""

    def __init__(self, secret_key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret_key) < MIN_KEY_BYTES:
            raise ValueError(f"token key must be at least {MIN_KEY_BYTES} bytes")
        self._key = secret_key
        self._clock = clock

    @classmethod
    def load_or_create(cls, ca_dir: Path, *, clock: Callable[[], float] = time.time) -> TokenIssuer:
        """The issuer whose key is ``<ca_dir>/token-key`` (0600), created on first use."""
        path = ca_dir / TOKEN_KEY_FILE
        with dir_lock(ca_dir):
            if path.exists():
                warn_if_exposed(path)
            else:
                write_atomic(path, os.urandom(MIN_KEY_BYTES), mode=PRIVATE_MODE)
            key = path.read_bytes()
        return cls(key, clock=clock)

    def issue(self, ns: str, sa: str, pod: str, ttl_s: int) -> str:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if not (ns and sa and pod):
            raise ValueError("namespace, service account and pod are all required")
        now = int(self._clock())
        claims = {"ns": ns, "sa": sa, "pod": pod, "iat": now, "exp": now + ttl_s}
        body = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{TOKEN_PREFIX}.{body}"
        return f"{signed}.{_b64encode(self._mac(signed))}"

    def verify(self, token: str) -> TokenClaims:
        """The token's claims; raises CredentialError when it is malformed, forged or expired."""
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise CredentialError(Refusal.MALFORMED, "too long or not ASCII")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise CredentialError(Refusal.MALFORMED, f"expected {TOKEN_PREFIX}.<claims>.<mac>")
        signed = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(signed), _b64decode(parts[2])):
            raise CredentialError(Refusal.BAD_SIGNATURE)
        claims = _parse_claims(_b64decode(parts[1]))
        if claims.exp <= self._clock():
            raise CredentialError(Refusal.EXPIRED, f"expired at {claims.exp}")
        return claims

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest()


def _parse_claims(raw: bytes) -> TokenClaims:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CredentialError(Refusal.MALFORMED, "claims are not JSON") from exc
    if not isinstance(data, dict):
        raise CredentialError(Refusal.MALFORMED, "claims are not an object")
    ns, sa, pod, exp = data.get("ns"), data.get("sa"), data.get("pod"), data.get("exp")
    if not all(isinstance(v, str) and v for v in (ns, sa, pod)) or type(exp) is not int:
        raise CredentialError(Refusal.MALFORMED, "claims need ns, sa, pod strings and an integer exp")
    return TokenClaims(ns=str(ns), sa=str(sa), pod=str(pod), exp=exp)


def check_node_credential(
    claims: TokenClaims, node_id_ns: str, node_id_pod: str, registry_sa: str | None
) -> Refusal | None:
    """None when the verified ``claims`` may speak for the node: same namespace and pod as the node id, and
    the service account the registry (not the proxy) has for that pod. Otherwise the reason to refuse."""
    if claims.ns != node_id_ns:
        return Refusal.NAMESPACE_MISMATCH
    if claims.pod != node_id_pod:
        return Refusal.POD_MISMATCH
    if registry_sa is None:
        return Refusal.UNKNOWN_POD
    if claims.sa != registry_sa:
        return Refusal.SERVICE_ACCOUNT_MISMATCH
    return None


def bearer_metadata(token: str) -> tuple[str, str]:
    """The gRPC metadata pair a proxy sends: ``("authorization", "Bearer <token>")``."""
    return AUTHORIZATION_METADATA_KEY, f"{BEARER_PREFIX}{token}"


def token_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The bearer token in a stream's invocation metadata; raises CredentialError when absent or ambiguous."""
    values = [v for k, v in metadata or () if k.lower() == AUTHORIZATION_METADATA_KEY]
    if not values:
        raise CredentialError(Refusal.MISSING)
    if len(values) > 1:
        raise CredentialError(Refusal.MALFORMED, "more than one authorization header")
    value = values[0]
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not value.startswith(BEARER_PREFIX):
        raise CredentialError(Refusal.MALFORMED, "authorization is not 'Bearer <token>'")
    return value[len(BEARER_PREFIX) :].strip()
