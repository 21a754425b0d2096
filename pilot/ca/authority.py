"""The certificate authority: a root kept in ``--ca-dir`` (or an operator's root/intermediate) that signs
workload certificates carrying SPIFFE identities.

Self-signed mode mirrors Istio's ``istio-ca-secret``: created on first start, reused afterwards, and
re-issued from the *same key* when little of its life is left so existing leaves keep verifying
(security/pkg/pki/ca/selfsignedcarootcertrotator.go). Plugged-in material (Istio's ``cacerts``) is used
as given and never rotated. https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from pilot.ca.certs import (
    CLOCK_SKEW_GRACE,
    CAError,
    build_root,
    build_workload_leaf,
    certs_to_pem,
    check_signing_chain,
    load_pem_chain,
)
from pilot.ca.files import PRIVATE_MODE, PUBLIC_MODE, dir_lock, warn_if_exposed, write_atomic
from pilot.ca.identity import spiffe_id
from pilot.ca.keys import SigningKey, generate_key, key_to_pem, load_signing_key

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

ROOT_CERT_FILE = "root-cert.pem"
ROOT_KEY_FILE = "root-key.pem"
DEFAULT_ROOT_TTL = timedelta(days=3650)  # Istio: CITADEL_SELF_SIGNED_CA_CERT_TTL
DEFAULT_WORKLOAD_TTL_S = 86400  # Istio: DEFAULT_WORKLOAD_CERT_TTL=24h
MAX_WORKLOAD_TTL_S = 90 * 86400  # Istio: MAX_WORKLOAD_CERT_TTL=90d; larger requests are refused
# Istio re-issues its self-signed root when less than 20% of its lifetime is left.
ROOT_RENEW_REMAINING_RATIO = 0.2

__all__ = ["CAError", "CertificateAuthority", "WorkloadCert", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkloadCert:
    """A signed workload certificate and its key, as SDS ``default`` serves them."""

    cert_chain_pem: bytes  # the leaf, then any intermediates; never the root (that is ROOTCA)
    key_pem: bytes  # PKCS#8
    not_before: datetime
    not_after: datetime
    spiffe_id: str


class CertificateAuthority:
    """Signs workload certificates with ``signer_key``; ``chain`` runs from the signer's issuer up to the
    root (empty when the signer is the root itself)."""

    def __init__(
        self,
        *,
        trust_domain: str,
        signer_cert: x509.Certificate,
        signer_key: SigningKey,
        chain: Sequence[x509.Certificate] = (),
        clock: Clock = utc_now,
        max_ttl_s: int = MAX_WORKLOAD_TTL_S,
    ) -> None:
        check_signing_chain(signer_cert, signer_key, chain, clock())
        self.trust_domain = trust_domain
        self.signer_cert = signer_cert
        self._signer_key = signer_key
        self._chain = tuple(chain)
        self._clock = clock
        self.max_ttl_s = max_ttl_s
        self.root_cert = self._chain[-1] if self._chain else signer_cert
        self.root_pem = certs_to_pem([self.root_cert])
        # Sent after every leaf so peers that only trust the root can build the path.
        self._intermediates_pem = certs_to_pem([signer_cert, *self._chain[:-1]]) if self._chain else b""
        # No leaf may outlive any certificate on its path.
        self._path_not_after = min(c.not_valid_after_utc for c in (signer_cert, *self._chain))

    @classmethod
    def load_or_create(
        cls,
        ca_dir: Path,
        trust_domain: str = "cluster.local",
        *,
        root_ttl: timedelta = DEFAULT_ROOT_TTL,
        key_type: str = "ECDSA_P256",
        clock: Clock = utc_now,
    ) -> CertificateAuthority:
        """The self-signed CA kept in ``ca_dir``: created on first call (key 0600), loaded afterwards."""
        cert_path, key_path = ca_dir / ROOT_CERT_FILE, ca_dir / ROOT_KEY_FILE
        with dir_lock(ca_dir):
            if key_path.exists() != cert_path.exists():
                raise CAError(
                    f"{ca_dir} has only one of {ROOT_CERT_FILE} and {ROOT_KEY_FILE}; "
                    "restore the other or remove both to create a new root"
                )
            now = clock()
            if key_path.exists():
                warn_if_exposed(key_path)
                key = load_signing_key(key_path.read_bytes())
                cert = load_pem_chain(cert_path.read_bytes(), what=str(cert_path))[0]
                if _needs_root_renewal(cert, now):
                    log.warning(
                        "root certificate expires %s; re-issuing it from the same key",
                        cert.not_valid_after_utc,
                    )
                    cert = build_root(key, trust_domain, now, root_ttl)
                    write_atomic(cert_path, certs_to_pem([cert]), mode=PUBLIC_MODE)
            else:
                key = generate_key(key_type)
                cert = build_root(key, trust_domain, now, root_ttl)
                write_atomic(key_path, key_to_pem(key), mode=PRIVATE_MODE)
                write_atomic(cert_path, certs_to_pem([cert]), mode=PUBLIC_MODE)
                log.info(
                    "created a self-signed root CA in %s (valid until %s)", ca_dir, cert.not_valid_after_utc
                )
        return cls(trust_domain=trust_domain, signer_cert=cert, signer_key=key, clock=clock)

    @classmethod
    def from_files(
        cls,
        cert: Path,
        key: Path,
        *,
        chain: Path | None = None,
        trust_domain: str = "cluster.local",
        clock: Clock = utc_now,
    ) -> CertificateAuthority:
        """An operator-supplied root, or intermediate plus ``chain`` (PEM, its issuers up to the root; a copy
        of the intermediate itself at the top, as in Istio's ``cert-chain.pem``, is tolerated)."""
        warn_if_exposed(key)
        signer = load_pem_chain(cert.read_bytes(), what=str(cert))[0]
        above = load_pem_chain(chain.read_bytes(), what=str(chain)) if chain else []
        if above and above[0] == signer:
            above = above[1:]
        try:
            signing_key = load_signing_key(key.read_bytes())
        except ValueError as exc:
            raise CAError(f"{key}: {exc}") from exc
        return cls(
            trust_domain=trust_domain, signer_cert=signer, signer_key=signing_key, chain=above, clock=clock
        )

    def issue_workload(
        self,
        ns: str,
        sa: str,
        *,
        ttl_s: int = DEFAULT_WORKLOAD_TTL_S,
        key_type: str = "ECDSA_P256",
        now: datetime | None = None,
    ) -> WorkloadCert:
        """A new key and certificate for ``spiffe://<td>/ns/<ns>/sa/<sa>`` valid for ``ttl_s`` seconds
        (clamped to the signing path's expiry); raises ValueError for a bad identity or TTL, CAError when
        the CA itself has expired."""
        if not 0 < ttl_s <= self.max_ttl_s:
            raise ValueError(f"ttl_s={ttl_s} is outside 1..{self.max_ttl_s}")
        uri = spiffe_id(self.trust_domain, ns, sa)
        now = now or self._clock()
        if now >= self._path_not_after:
            raise CAError(f"the CA expired at {self._path_not_after}; cannot sign")
        not_after = min(now + timedelta(seconds=ttl_s), self._path_not_after)
        key = generate_key(key_type)
        leaf = build_workload_leaf(
            uri=uri,
            public_key=key.public_key(),
            signer_cert=self.signer_cert,
            signer_key=self._signer_key,
            not_before=now - CLOCK_SKEW_GRACE,
            not_after=not_after,
        )
        return WorkloadCert(
            cert_chain_pem=certs_to_pem([leaf]) + self._intermediates_pem,
            key_pem=key_to_pem(key),
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            spiffe_id=uri,
        )


def _needs_root_renewal(cert: x509.Certificate, now: datetime) -> bool:
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - now < lifetime * ROOT_RENEW_REMAINING_RATIO
