"""SDS secrets for a sidecar's own identity, and the references listeners and clusters use to ask for them.

Names follow Istio (pkg/security/security.go): ``default`` is the workload's cert chain and key,
``ROOTCA`` the trust bundle. Both are delivered over the ADS stream, so every reference points at an
``ads {}`` config source with the v3 resource API.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/transport_sockets/tls/v3/secret.proto
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2
from google.protobuf import any_pb2

from pilot.ca.authority import WorkloadCert
from pilot.translate.pb import ads_config_source

WORKLOAD_SECRET = "default"
ROOT_CA_SECRET = "ROOTCA"
WORKLOAD_SECRET_NAMES = frozenset({WORKLOAD_SECRET, ROOT_CA_SECRET})
SECRET_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"


def tls_certificate_secret(name: str, cert: WorkloadCert) -> secret_pb2.Secret:
    return secret_pb2.Secret(
        name=name,
        tls_certificate=common_pb2.TlsCertificate(
            certificate_chain=base_pb2.DataSource(inline_bytes=cert.cert_chain_pem),
            private_key=base_pb2.DataSource(inline_bytes=cert.key_pem),
        ),
    )


def trusted_ca_secret(name: str, root_pem: bytes) -> secret_pb2.Secret:
    return secret_pb2.Secret(
        name=name,
        validation_context=common_pb2.CertificateValidationContext(
            trusted_ca=base_pb2.DataSource(inline_bytes=root_pem),
        ),
    )


def workload_secrets(cert: WorkloadCert, root_pem: bytes) -> dict[str, any_pb2.Any]:
    """``default`` and ``ROOTCA`` for one proxy, packed for an SDS response. Callers must pass the
    certificate of the proxy's *verified* identity only: these are the only names a proxy is served."""
    packed: dict[str, any_pb2.Any] = {}
    for secret in (
        tls_certificate_secret(WORKLOAD_SECRET, cert),
        trusted_ca_secret(ROOT_CA_SECRET, root_pem),
    ):
        any_msg = any_pb2.Any()
        any_msg.Pack(secret, deterministic=True)
        packed[secret.name] = any_msg
    return packed


def requested_workload_secrets(
    cert: WorkloadCert, root_pem: bytes, requested: Iterable[str]
) -> tuple[dict[str, any_pb2.Any], list[str]]:
    """The requested secrets a proxy may have, and the requested names it may not (to log and count).

    ``cert`` must be the certificate of the stream's verified identity: a proxy only ever gets its own
    ``default`` and ``ROOTCA``. Unknown names are dropped rather than failing the response, as istiod's
    SDS does (pilot/pkg/xds/sds.go), so one bad reference does not starve the others."""
    wanted = set(requested)
    allowed = {name: res for name, res in workload_secrets(cert, root_pem).items() if name in wanted}
    return allowed, sorted(wanted - WORKLOAD_SECRET_NAMES)


def sds_secret_config(name: str, ads: bool = True) -> secret_pb2.SdsSecretConfig:
    """A reference to secret ``name``; fetched over ADS by default, waiting for it without a timeout (as
    Istio does for ``default``/``ROOTCA``: a listener or cluster must not come up without its cert). With
    ``ads=False`` the reference has no config source, which Envoy resolves against static ``secrets`` in
    the bootstrap. The one helper for both the CA's contexts and ``pilot.translate.tls``."""
    if not ads:
        return secret_pb2.SdsSecretConfig(name=name)
    return secret_pb2.SdsSecretConfig(name=name, sds_config=ads_config_source())
