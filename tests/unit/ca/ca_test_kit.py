"""Test-only kit: a fake wall clock, an operator's root and intermediate, independent chain verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from pilot.ca.certs import build_root, serial_number
from pilot.ca.keys import SigningKey

# Whole seconds: X.509 times have no sub-second part, so exact comparisons need a second-aligned clock.
T0 = datetime.now(UTC).replace(microsecond=0)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_root(now: datetime, ttl: timedelta = timedelta(days=365)) -> tuple[x509.Certificate, SigningKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return build_root(key, "operator.example", now, ttl), key


def make_intermediate(
    root: x509.Certificate,
    root_key: SigningKey,
    now: datetime,
    ttl: timedelta = timedelta(days=30),
    *,
    ca=True,
) -> tuple[x509.Certificate, SigningKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator intermediate")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + ttl)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    return cert, key


def verify_client_chain(chain_pem: bytes, root_pem: bytes, at: datetime) -> list[str]:
    """The URI SANs of the verified leaf, per cryptography's path builder (raises when it does not verify)."""
    leaf, *intermediates = x509.load_pem_x509_certificates(chain_pem)
    store = verification.Store(x509.load_pem_x509_certificates(root_pem))
    verifier = verification.PolicyBuilder().store(store).time(at).build_client_verifier()
    verified = verifier.verify(leaf, intermediates)
    assert verified.subjects is not None
    return [n.value for n in verified.subjects if isinstance(n, x509.UniformResourceIdentifier)]
