"""Private keys for the CA and workloads: generation by name, PEM encoding, and the matching signature hash.

Istio's agent defaults to RSA 2048 and offers ECDSA P-256 (``ECC_SIGNATURE_ALGORITHM=ECDSA``); we default to
P-256 because it signs and handshakes far faster and Envoy serves it natively.
"""

from __future__ import annotations

from typing import Literal, get_args

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

KeyType = Literal["ECDSA_P256", "ECDSA_P384", "RSA_2048", "RSA_4096"]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_key(key_type: str) -> SigningKey:
    """A fresh private key of ``key_type`` (one of KEY_TYPES); raises ValueError for anything else."""
    if key_type == "ECDSA_P256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ECDSA_P384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "RSA_2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "RSA_4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    raise ValueError(f"unknown key type {key_type!r}; expected one of {', '.join(KEY_TYPES)}")


def signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | hashes.SHA384:
    # P-384 pairs with SHA-384 (RFC 5480 section 4); everything else signs with SHA-256.
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def key_to_pem(key: SigningKey) -> bytes:
    """Unencrypted PKCS#8 PEM, the form Envoy's ``private_key`` DataSource reads for both RSA and EC."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_signing_key(pem: bytes) -> SigningKey:
    """An RSA or EC private key from unencrypted PEM; raises ValueError for other key kinds."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported CA key type {type(key).__name__}; use RSA or ECDSA")
    return key


def public_key_der(key: SigningKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
