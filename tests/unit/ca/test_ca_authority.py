from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ca_test_kit import FakeClock, make_intermediate, make_root, verify_client_chain
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from pilot.ca.authority import ROOT_CERT_FILE, ROOT_KEY_FILE, CAError, CertificateAuthority
from pilot.ca.certs import certs_to_pem
from pilot.ca.keys import key_to_pem

ID = "spiffe://cluster.local/ns/default/sa/reviews"


def leaf_of(chain_pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificates(chain_pem)[0]


def test_leaf_chain_verifies_to_root_and_names_only_the_spiffe_id(ca, clock):
    cert = ca.issue_workload("default", "reviews", ttl_s=60)
    assert cert.spiffe_id == ID
    assert verify_client_chain(cert.cert_chain_pem, ca.root_pem, clock()) == [ID]
    leaf = leaf_of(cert.cert_chain_pem)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert list(san.value) == [x509.UniformResourceIdentifier(ID)]
    assert san.critical  # the subject is empty, so RFC 5280 wants the SAN critical
    assert len(leaf.subject) == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_accepts_leaf_for_client_and_server_purpose(ca, clock, tmp_path):
    # openssl checks validity against the real clock: issue at the real now, not at the kit's T0 (taken
    # at import, which a long suite leaves more than the leaf's 10 minutes behind).
    clock.now = datetime.now(UTC).replace(microsecond=0)
    cert = ca.issue_workload("default", "reviews", ttl_s=600)
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    (tmp_path / "leaf.pem").write_bytes(cert.cert_chain_pem)
    for purpose in ("sslclient", "sslserver"):
        out = subprocess.run(
            [
                "openssl",
                "verify",
                "-purpose",
                purpose,
                "-CAfile",
                tmp_path / "root.pem",
                tmp_path / "leaf.pem",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr


def test_leaf_key_is_p256_and_matches_certificate(ca):
    cert = ca.issue_workload("default", "reviews")
    key = serialization.load_pem_private_key(cert.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert leaf_of(cert.cert_chain_pem).public_key() == key.public_key()


def test_rsa_key_type_on_request(ca):
    cert = ca.issue_workload("default", "reviews", key_type="RSA_2048")
    key = leaf_of(cert.cert_chain_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    with pytest.raises(ValueError, match="unknown key type"):
        ca.issue_workload("default", "reviews", key_type="DSA")


def test_leaf_extensions_match_istio(ca):
    leaf = leaf_of(ca.issue_workload("default", "reviews").cert_chain_pem)
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    assert not usage.key_cert_sign and not usage.crl_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert 0 < leaf.serial_number < 2**128


def test_ttl_honoured_with_two_minute_backdating(ca, clock):
    cert = ca.issue_workload("default", "reviews", ttl_s=60)
    assert cert.not_before == clock() - timedelta(minutes=2)
    assert cert.not_after == clock() + timedelta(seconds=60)
    leaf = leaf_of(cert.cert_chain_pem)
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (cert.not_before, cert.not_after)


def test_not_after_clamped_to_signer(ca_dir, clock):
    ca = CertificateAuthority.load_or_create(ca_dir, root_ttl=timedelta(hours=1), clock=clock)
    cert = ca.issue_workload("default", "reviews", ttl_s=86400)
    assert cert.not_after == ca.root_cert.not_valid_after_utc == clock() + timedelta(hours=1)


@pytest.mark.parametrize("ttl_s", [0, -1, 90 * 86400 + 1])
def test_ttl_outside_range_refused_not_clamped(ca, ttl_s):
    with pytest.raises(ValueError, match="ttl_s"):
        ca.issue_workload("default", "reviews", ttl_s=ttl_s)


def test_expired_ca_refuses_to_sign(ca_dir, clock):
    ca = CertificateAuthority.load_or_create(ca_dir, root_ttl=timedelta(hours=1), clock=clock)
    clock.advance(3601)
    with pytest.raises(CAError, match="expired"):
        ca.issue_workload("default", "reviews")


def test_root_persists_across_restarts_with_private_key_0600(ca_dir, clock):
    first = CertificateAuthority.load_or_create(ca_dir, clock=clock)
    cert = first.issue_workload("default", "reviews")
    second = CertificateAuthority.load_or_create(ca_dir, clock=clock)
    assert second.root_pem == first.root_pem
    assert stat.S_IMODE((ca_dir / ROOT_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    # A leaf issued before the restart still verifies, and the restarted CA's leaves verify too.
    assert verify_client_chain(cert.cert_chain_pem, second.root_pem, clock()) == [ID]
    assert verify_client_chain(
        second.issue_workload("default", "reviews").cert_chain_pem, first.root_pem, clock()
    )


def test_half_present_ca_dir_is_refused_not_overwritten(ca_dir, clock):
    CertificateAuthority.load_or_create(ca_dir, clock=clock)
    (ca_dir / ROOT_CERT_FILE).unlink()
    key_before = (ca_dir / ROOT_KEY_FILE).read_bytes()
    with pytest.raises(CAError, match="only one of"):
        CertificateAuthority.load_or_create(ca_dir, clock=clock)
    assert (ca_dir / ROOT_KEY_FILE).read_bytes() == key_before


def test_root_near_expiry_is_reissued_from_same_key(ca_dir, clock):
    ca = CertificateAuthority.load_or_create(ca_dir, root_ttl=timedelta(days=10), clock=clock)
    clock.advance(9 * 86400)  # 10% of the root's life left, below Istio's 20% threshold
    old_leaf = ca.issue_workload("default", "reviews", ttl_s=3600)
    renewed = CertificateAuthority.load_or_create(ca_dir, root_ttl=timedelta(days=10), clock=clock)
    assert renewed.root_pem != ca.root_pem
    assert renewed.root_cert.public_key() == ca.root_cert.public_key()
    assert renewed.root_cert.not_valid_after_utc == clock() + timedelta(days=10)
    assert verify_client_chain(old_leaf.cert_chain_pem, renewed.root_pem, clock()) == [ID]


def write_operator_files(tmp_path: Path, clock: FakeClock, *, chain_includes_signer: bool):
    root, root_key = make_root(clock())
    inter, inter_key = make_intermediate(root, root_key, clock(), ttl=timedelta(days=2))
    (tmp_path / "ca-cert.pem").write_bytes(certs_to_pem([inter]))
    (tmp_path / "ca-key.pem").write_bytes(key_to_pem(inter_key))
    chain = [inter, root] if chain_includes_signer else [root]
    (tmp_path / "cert-chain.pem").write_bytes(certs_to_pem(chain))
    return root, inter


@pytest.mark.parametrize("chain_includes_signer", [False, True])
def test_operator_intermediate_signs_and_chain_reaches_operator_root(tmp_path, clock, chain_includes_signer):
    root, inter = write_operator_files(tmp_path, clock, chain_includes_signer=chain_includes_signer)
    ca = CertificateAuthority.from_files(
        tmp_path / "ca-cert.pem", tmp_path / "ca-key.pem", chain=tmp_path / "cert-chain.pem", clock=clock
    )
    assert ca.root_pem == certs_to_pem([root])
    cert = ca.issue_workload("default", "reviews", ttl_s=7 * 86400)
    sent = x509.load_pem_x509_certificates(cert.cert_chain_pem)
    assert sent[1:] == [inter]  # leaf, then the intermediate; the root travels as ROOTCA only
    assert sent[0].issuer == inter.subject
    assert verify_client_chain(cert.cert_chain_pem, ca.root_pem, clock()) == [ID]
    # Clamped to the intermediate (2 days), not the root (365 days) nor the request (7 days).
    assert cert.not_after == inter.not_valid_after_utc


def test_operator_root_can_sign_directly(tmp_path, clock):
    root, root_key = make_root(clock())
    (tmp_path / "root.pem").write_bytes(certs_to_pem([root]))
    (tmp_path / "root-key.pem").write_bytes(key_to_pem(root_key))
    ca = CertificateAuthority.from_files(tmp_path / "root.pem", tmp_path / "root-key.pem", clock=clock)
    assert verify_client_chain(ca.issue_workload("ns", "sa").cert_chain_pem, ca.root_pem, clock())


def test_operator_material_with_wrong_key_missing_root_or_non_ca_is_refused(tmp_path, clock):
    root, root_key = make_root(clock())
    inter, inter_key = make_intermediate(root, root_key, clock())
    leafish, leafish_key = make_intermediate(root, root_key, clock(), ca=False)
    files = {
        "root.pem": certs_to_pem([root]),
        "inter.pem": certs_to_pem([inter]),
        "inter-key.pem": key_to_pem(inter_key),
        "root-key.pem": key_to_pem(root_key),
        "leafish.pem": certs_to_pem([leafish]),
        "leafish-key.pem": key_to_pem(leafish_key),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(CAError, match="does not match"):
        CertificateAuthority.from_files(
            tmp_path / "inter.pem", tmp_path / "root-key.pem", chain=tmp_path / "root.pem"
        )
    with pytest.raises(CAError, match="self-signed root"):
        CertificateAuthority.from_files(tmp_path / "inter.pem", tmp_path / "inter-key.pem")
    with pytest.raises(CAError, match="not a CA"):
        CertificateAuthority.from_files(
            tmp_path / "leafish.pem", tmp_path / "leafish-key.pem", chain=tmp_path / "root.pem"
        )
    other_root, _ = make_root(clock())
    (tmp_path / "other-root.pem").write_bytes(certs_to_pem([other_root]))
    with pytest.raises(CAError, match="is not issued by"):
        CertificateAuthority.from_files(
            tmp_path / "inter.pem", tmp_path / "inter-key.pem", chain=tmp_path / "other-root.pem"
        )
