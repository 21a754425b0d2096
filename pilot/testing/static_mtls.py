"""mTLS contexts over the workload secrets for *static* Envoy configs in tests (`ads=False` resolves the
`default`/`ROOTCA` references against bootstrap `secrets`). The control plane itself builds its contexts
in `pilot.translate.tls`; these exist so CA tests can prove real Envoy accepts what the CA issues without
a control plane in the loop."""

from __future__ import annotations

from collections.abc import Sequence

from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import wrappers_pb2

from pilot.translate.secrets import ROOT_CA_SECRET, WORKLOAD_SECRET, sds_secret_config


def mtls_common_tls_context(
    *, peer_spiffe_ids: Sequence[str] = (), ads: bool = True, alpn: Sequence[str] = ()
) -> tls_pb2.CommonTlsContext:
    """Present ``default``, trust ``ROOTCA``, and when ``peer_spiffe_ids`` is given accept only peers whose
    URI SAN is one of them (Istio's combined validation context does the same)."""
    san_matchers = [
        common_pb2.SubjectAltNameMatcher(
            san_type=common_pb2.SubjectAltNameMatcher.URI, matcher=string_pb2.StringMatcher(exact=uri)
        )
        for uri in peer_spiffe_ids
    ]
    return tls_pb2.CommonTlsContext(
        tls_certificate_sds_secret_configs=[sds_secret_config(WORKLOAD_SECRET, ads)],
        combined_validation_context=tls_pb2.CommonTlsContext.CombinedCertificateValidationContext(
            default_validation_context=common_pb2.CertificateValidationContext(
                match_typed_subject_alt_names=san_matchers
            ),
            validation_context_sds_secret_config=sds_secret_config(ROOT_CA_SECRET, ads),
        ),
        alpn_protocols=list(alpn),
    )


def server_mtls_context(
    *, peer_spiffe_ids: Sequence[str] = (), ads: bool = True, alpn: Sequence[str] = ()
) -> tls_pb2.DownstreamTlsContext:
    """An inbound (listener) context that requires a client certificate chaining to ``ROOTCA``."""
    return tls_pb2.DownstreamTlsContext(
        common_tls_context=mtls_common_tls_context(peer_spiffe_ids=peer_spiffe_ids, ads=ads, alpn=alpn),
        require_client_certificate=wrappers_pb2.BoolValue(value=True),
    )


def client_mtls_context(
    *, peer_spiffe_ids: Sequence[str] = (), sni: str = "", ads: bool = True, alpn: Sequence[str] = ()
) -> tls_pb2.UpstreamTlsContext:
    """An outbound (cluster) context that presents ``default`` and checks the server's SPIFFE id."""
    return tls_pb2.UpstreamTlsContext(
        common_tls_context=mtls_common_tls_context(peer_spiffe_ids=peer_spiffe_ids, ads=ads, alpn=alpn),
        sni=sni,
    )
