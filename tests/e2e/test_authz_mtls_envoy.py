"""Real mTLS through generated inbound chains: PERMISSIVE takes TLS and plaintext on one port, STRICT
refuses plaintext, and RBAC `principals` sees the SPIFFE id of the client certificate.

The generated contexts fetch `default`/`ROOTCA` over SDS; here we drop the SDS source so Envoy takes
the same names from static secrets (the CA helper serves them over ADS in the product).
"""

from __future__ import annotations

import datetime
import http.client
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from envoy.config.core.v3.base_pb2 import DataSource
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.extensions.transport_sockets.tls.v3.common_pb2 import CertificateValidationContext, TlsCertificate
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import DownstreamTlsContext

from pilot.model.resource import resource_from_document
from pilot.translate.rbac import build_http_rbac_filters
from pilot.translate.tls import ALPN_IN_MESH, InboundChains, inbound_filter_chains
from tests.e2e.envoy_kit_authz import (
    address,
    bootstrap,
    direct_response_hcm,
    free_port,
    loopback_ip,
    pack,
    run_envoy,
    write_bootstrap,
)

pytestmark = pytest.mark.e2e
TD = "cluster.local"


def _cert(
    subject: str, key: Any, issuer: x509.Name, issuer_key: Any, ca: bool, uri: str = ""
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=2))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if uri:
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False
        )
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: Any) -> tuple[str, str]:
    c, k = directory / f"{name}.pem", directory / f"{name}-key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(c), str(k)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshpilot test root")])
    ca = _cert("meshpilot test root", ca_key, ca_name, ca_key, ca=True)
    out = {"ca": _write(d, "ca", ca, ca_key)}
    for name, sa in [("server", "reviews"), ("sleep", "sleep"), ("other", "other")]:
        key = ec.generate_private_key(ec.SECP256R1())
        out[name] = _write(
            d, name, _cert(name, key, ca_name, ca_key, False, f"spiffe://{TD}/ns/default/sa/{sa}"), key
        )
    return out


def static_sds(chains: InboundChains) -> InboundChains:
    """Point the generated SDS references at static secrets of the same names."""
    for chain in chains.filter_chains:
        if not chain.HasField("transport_socket"):
            continue
        ctx = DownstreamTlsContext()
        assert chain.transport_socket.typed_config.Unpack(ctx)
        common = ctx.common_tls_context
        for sds in [
            *common.tls_certificate_sds_secret_configs,
            common.combined_validation_context.validation_context_sds_secret_config,
        ]:
            sds.ClearField("sds_config")
        chain.transport_socket.typed_config.CopyFrom(pack(ctx))
    return chains


def client_context(pki: dict[str, tuple[str, str]], who: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the server's identity is a SPIFFE URI, not a host name
    ctx.load_verify_locations(pki["ca"][0])
    ctx.load_cert_chain(*pki[who])
    ctx.set_alpn_protocols(list(ALPN_IN_MESH))
    return ctx


def status(ip: str, port: int, ctx: ssl.SSLContext | None) -> int:
    conn: http.client.HTTPConnection
    if ctx is None:
        conn = http.client.HTTPConnection(ip, port, timeout=5)
    else:
        conn = http.client.HTTPSConnection(ip, port, timeout=5, context=ctx)
    try:
        conn.request("GET", "/", headers={"Host": "reviews"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_permissive_and_strict_with_real_mtls(tmp_path: Path, pki: dict[str, tuple[str, str]]) -> None:
    ip = loopback_ip()
    permissive_port, strict_port, admin_port = free_port(ip), free_port(ip), free_port(ip)
    allow_sleep = resource_from_document(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "allow-sleep", "namespace": "default"},
            "spec": {"rules": [{"from": [{"source": {"principals": [f"{TD}/ns/default/sa/sleep"]}}]}]},
        }
    )
    rbac = build_http_rbac_filters({"ALLOW": [allow_sleep]}, TD)
    listeners = []
    for name, mode, port in [
        ("permissive", "PERMISSIVE", permissive_port),
        ("strict", "STRICT", strict_port),
    ]:
        chains = static_sds(
            inbound_filter_chains(mode, True, lambda mtls: [direct_response_hcm(rbac)], name=f"{ip}_{port}")
        )
        listeners.append(
            Listener(
                name=name,
                address=address(ip, port),
                listener_filters=chains.listener_filters,
                filter_chains=chains.filter_chains,
            )
        )
    b = bootstrap(ip, admin_port, listeners, [])
    b.static_resources.secrets.extend(
        [
            Secret(
                name="default",
                tls_certificate=TlsCertificate(
                    certificate_chain=DataSource(filename=pki["server"][0]),
                    private_key=DataSource(filename=pki["server"][1]),
                ),
            ),
            Secret(
                name="ROOTCA",
                validation_context=CertificateValidationContext(trusted_ca=DataSource(filename=pki["ca"][0])),
            ),
        ]
    )
    with run_envoy(write_bootstrap(b, tmp_path), ip, admin_port) as envoy:
        try:
            sleep, other = client_context(pki, "sleep"), client_context(pki, "other")
            assert status(ip, permissive_port, sleep) == 200
            assert status(ip, permissive_port, other) == 403  # authenticated, but not the allowed principal
            assert (
                status(ip, permissive_port, None) == 403
            )  # plaintext accepted on the same port, no principal
            assert status(ip, strict_port, sleep) == 200
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                status(ip, strict_port, None)  # STRICT: no plaintext chain
        except BaseException:
            print(envoy.log_tail())
            raise
