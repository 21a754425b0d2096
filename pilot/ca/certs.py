"""X.509 templates (self-signed root, workload leaf) and checks on operator-supplied signing chains.

Leaf contents follow Istio's ``genCertTemplateFromCSR`` (security/pkg/pki/util/generate_cert.go): empty
subject with a critical URI SAN, KeyUsage digitalSignature|keyEncipherment, ExtKeyUsage serverAuth and
clientAuth, not a CA, NotBefore backdated by a clock-skew grace, NotAfter clamped to the signer's.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pilot.ca.keys import SigningKey, public_key_der, signature_hash

# Istio's ClockSkewGracePeriod: peers whose clocks run a little behind still accept a fresh cert.
CLOCK_SKEW_GRACE = timedelta(minutes=2)
ROOT_COMMON_NAME = "meshpilot root CA"


class CAError(Exception):
    """The CA material is unusable (mismatched key, broken chain, expired signer, ...)."""


def serial_number() -> int:
    # Random and at most 128 bits, as Istio does; never zero (RFC 5280 wants a positive serial).
    return secrets.randbits(128) or 1


def build_root(key: SigningKey, trust_domain: str, now: datetime, ttl: timedelta) -> x509.Certificate:
    """A self-signed root whose Organization is the trust domain (Istio's self-signed CA does the same)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain),
            x509.NameAttribute(NameOID.COMMON_NAME, ROOT_COMMON_NAME),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial_number())
        .not_valid_before(now - CLOCK_SKEW_GRACE)
        .not_valid_after(now + ttl)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    return builder.sign(key, signature_hash(key))


def build_workload_leaf(
    *,
    uri: str,
    public_key: CertificatePublicKeyTypes,
    signer_cert: x509.Certificate,
    signer_key: SigningKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A workload certificate whose only name is the SPIFFE ``uri``, signed by ``signer_key``."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(signer_cert.subject)
        .public_key(public_key)
        .serial_number(serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        # RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=True)
        .add_extension(_leaf_key_usage(), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_authority_key_id(signer_cert, signer_key), critical=False)
    )
    return builder.sign(signer_key, signature_hash(signer_key))


def _authority_key_id(signer_cert: x509.Certificate, signer_key: SigningKey) -> x509.AuthorityKeyIdentifier:
    try:
        ski = signer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def certs_to_pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_pem_chain(pem: bytes, *, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CAError(f"{what}: not PEM certificates ({exc})") from exc
    return certs


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check_signing_chain(
    signer_cert: x509.Certificate, signer_key: SigningKey, chain: Sequence[x509.Certificate], now: datetime
) -> None:
    """Raise CAError unless ``signer_key`` belongs to ``signer_cert``, every cert is a currently valid CA
    allowed to sign certificates, each is issued by the next, and the last one is a self-signed root."""
    if public_key_der(signer_key) != signer_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise CAError("the CA key does not match the CA certificate")
    path = [signer_cert, *chain]
    for cert in path:
        _check_is_valid_ca(cert, now)
    for child, parent in itertools.pairwise(path):
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise CAError(
                f"{child.subject.rfc4514_string()} is not issued by {parent.subject.rfc4514_string()}"
            ) from exc
    if not is_self_signed(path[-1]):
        raise CAError("the chain does not end in a self-signed root; pass the full chain up to the root")


def _check_is_valid_ca(cert: x509.Certificate, now: datetime) -> None:
    label = cert.subject.rfc4514_string() or "<empty subject>"
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    if basic is None or not basic.ca:
        raise CAError(f"{label} is not a CA certificate (BasicConstraints CA:TRUE missing)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            raise CAError(f"{label} may not sign certificates (KeyUsage keyCertSign missing)")
    except x509.ExtensionNotFound:
        pass  # RFC 5280 allows a CA without KeyUsage
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise CAError(
            f"{label} is not valid now ({cert.not_valid_before_utc:%Y-%m-%dT%H:%MZ} .. "
            f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%MZ})"
        )
