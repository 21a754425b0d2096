from __future__ import annotations

from datetime import UTC, datetime

from envoy.config.core.v3 import config_source_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2

from pilot.ca.authority import CertificateAuthority
from pilot.testing.static_mtls import client_mtls_context, server_mtls_context
from pilot.translate.secrets import (
    SECRET_TYPE_URL,
    WORKLOAD_SECRET_NAMES,
    requested_workload_secrets,
    sds_secret_config,
    workload_secrets,
)


def unpack(any_msg) -> secret_pb2.Secret:
    secret = secret_pb2.Secret()
    assert any_msg.Unpack(secret)
    return secret


def test_workload_secrets_are_default_and_rootca(tmp_path):
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    cert = ca.issue_workload("default", "reviews", ttl_s=60)
    secrets = workload_secrets(cert, ca.root_pem)
    assert set(secrets) == set(WORKLOAD_SECRET_NAMES) == {"default", "ROOTCA"}
    assert all(a.type_url == SECRET_TYPE_URL for a in secrets.values())
    default, rootca = unpack(secrets["default"]), unpack(secrets["ROOTCA"])
    assert default.name == "default" and default.WhichOneof("type") == "tls_certificate"
    assert default.tls_certificate.certificate_chain.inline_bytes == cert.cert_chain_pem
    assert default.tls_certificate.private_key.inline_bytes == cert.key_pem
    assert rootca.name == "ROOTCA" and rootca.WhichOneof("type") == "validation_context"
    assert rootca.validation_context.trusted_ca.inline_bytes == ca.root_pem
    assert b"PRIVATE KEY" not in secrets["ROOTCA"].SerializeToString()
    # Deterministic bytes for equal input: versions are content hashes upstream.
    assert workload_secrets(cert, ca.root_pem)["default"].SerializeToString(deterministic=True) == secrets[
        "default"
    ].SerializeToString(deterministic=True)
    assert cert.not_after > datetime.now(UTC)


def test_sds_secret_config_points_at_ads_v3():
    ref = sds_secret_config("default")
    assert ref.name == "default"
    assert ref.sds_config.WhichOneof("config_source_specifier") == "ads"
    assert ref.sds_config.resource_api_version == config_source_pb2.ApiVersion.V3
    assert not sds_secret_config("ROOTCA", ads=False).HasField("sds_config")


def test_mtls_contexts_reference_both_secrets_and_pin_peer_ids():
    peer = "spiffe://cluster.local/ns/default/sa/productpage"
    server = server_mtls_context(peer_spiffe_ids=[peer])
    assert server.require_client_certificate.value is True
    common = server.common_tls_context
    assert [c.name for c in common.tls_certificate_sds_secret_configs] == ["default"]
    combined = common.combined_validation_context
    assert combined.validation_context_sds_secret_config.name == "ROOTCA"
    [matcher] = combined.default_validation_context.match_typed_subject_alt_names
    assert matcher.san_type == common_pb2.SubjectAltNameMatcher.URI
    assert matcher.matcher.exact == peer
    client = client_mtls_context(sni="outbound_.9080_._.reviews")
    assert client.sni == "outbound_.9080_._.reviews"
    client_validation = client.common_tls_context.combined_validation_context.default_validation_context
    assert not client_validation.match_typed_subject_alt_names


def test_requested_secrets_are_limited_to_the_proxys_own_pair(tmp_path):
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    cert = ca.issue_workload("default", "reviews", ttl_s=60)
    allowed, denied = requested_workload_secrets(
        cert, ca.root_pem, ["ROOTCA", "kubernetes://other-ns/secret", "spiffe://cluster.local/ns/x/sa/y"]
    )
    assert list(allowed) == ["ROOTCA"]
    assert denied == ["kubernetes://other-ns/secret", "spiffe://cluster.local/ns/x/sa/y"]
    allowed, denied = requested_workload_secrets(cert, ca.root_pem, ["default", "ROOTCA"])
    assert set(allowed) == {"default", "ROOTCA"} and denied == []
