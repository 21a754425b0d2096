"""Workload certificates per identity, re-issued at half-life.

Istio's agent rotates when ``SECRET_GRACE_PERIOD_RATIO`` (0.5) of the lifetime is left, with a small
jitter so pods that started together do not all rotate together
(security/pkg/nodeagent/cache/secretcache.go ``rotateTime``). Here the control plane holds one cert per
identity (namespace, service account), shared by every proxy of that identity, and the composition root
asks ``next_rotation_at()`` when to wake up, calls ``rotate_due()``, and re-pushes SDS to the proxies of
the identities it returns. Envoy swaps an SDS secret in place: listeners are not drained and open
connections keep their handshake, so a rotation drops no requests.
https://www.envoyproxy.io/docs/envoy/latest/configuration/security/secret#secret-discovery-service-sds

Pure and single-threaded: time comes from the injected clock; run it on the event loop, not in threads.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pilot.ca.authority import DEFAULT_WORKLOAD_TTL_S, CertificateAuthority, Clock, WorkloadCert, utc_now
from pilot.ca.identity import Identity

DEFAULT_GRACE_RATIO = 0.5
DEFAULT_JITTER_RATIO = 0.01


@dataclass(frozen=True)
class _Entry:
    cert: WorkloadCert
    rotate_at: datetime


class CertStore:
    """The current certificate of each identity, issued on first use and re-issued once past half-life."""

    def __init__(
        self,
        ca: CertificateAuthority,
        *,
        ttl_s: int = DEFAULT_WORKLOAD_TTL_S,
        key_type: str = "ECDSA_P256",
        grace_ratio: float = DEFAULT_GRACE_RATIO,
        jitter_ratio: float = DEFAULT_JITTER_RATIO,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < grace_ratio < 1:
            raise ValueError(f"grace_ratio={grace_ratio} must be in (0, 1)")
        if not 0 <= jitter_ratio < min(grace_ratio, 1 - grace_ratio):
            raise ValueError(f"jitter_ratio={jitter_ratio} must leave rotation strictly inside the lifetime")
        self._ca = ca
        self._ttl_s = ttl_s
        self._key_type = key_type
        self._grace_ratio = grace_ratio
        self._jitter_ratio = jitter_ratio
        self._clock = clock
        self._rng = rng or random.Random()
        self._entries: dict[Identity, _Entry] = {}

    def get(self, ns: str, sa: str) -> WorkloadCert:
        """The identity's current certificate, issuing a new one when absent or due for rotation."""
        identity = Identity(ns, sa)
        now = self._clock()
        entry = self._entries.get(identity)
        if entry is None or now >= entry.rotate_at:
            entry = self._issue(identity, now)
        return entry.cert

    def peek(self, ns: str, sa: str) -> WorkloadCert | None:
        """The identity's certificate if one was issued, without issuing or rotating."""
        entry = self._entries.get(Identity(ns, sa))
        return entry.cert if entry else None

    def next_rotation_at(self) -> datetime | None:
        """When the earliest held certificate is due; None when no certificate is held."""
        return min((e.rotate_at for e in self._entries.values()), default=None)

    def rotate_due(self) -> list[Identity]:
        """Re-issue every certificate that is due now; returns the identities whose proxies need a push."""
        now = self._clock()
        due = [identity for identity, e in self._entries.items() if now >= e.rotate_at]
        for identity in due:
            self._issue(identity, now)
        return due

    def retain(self, identities: Iterable[Identity]) -> None:
        """Forget identities no connected proxy uses, so nobody keeps renewing certificates for them."""
        keep = set(identities)
        for identity in [i for i in self._entries if i not in keep]:
            del self._entries[identity]

    def identities(self) -> list[Identity]:
        return sorted(self._entries)

    def _issue(self, identity: Identity, now: datetime) -> _Entry:
        cert = self._ca.issue_workload(
            identity.ns, identity.sa, ttl_s=self._ttl_s, key_type=self._key_type, now=now
        )
        # Measured from issuance, not from the back-dated NotBefore, as Istio does; the lifetime may be
        # shorter than ttl_s when clamped to the CA's own expiry.
        lifetime = cert.not_after - now
        ratio = self._grace_ratio + self._rng.uniform(-self._jitter_ratio, self._jitter_ratio)
        entry = _Entry(cert=cert, rotate_at=now + lifetime * (1 - ratio))
        self._entries[identity] = entry
        return entry
