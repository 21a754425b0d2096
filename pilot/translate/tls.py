"""TLS contexts for sidecars: Istio mTLS (SDS `default` + `ROOTCA`), DestinationRule SIMPLE/MUTUAL,
auto-mTLS transport socket matches, and inbound filter chains for STRICT / PERMISSIVE / DISABLE.

Behaviour follows Istio's cluster_tls.go, filterchain_options.go and authn/utils.go (ALPN sets, cipher
list, TLS 1.2-1.3): https://istio.io/latest/docs/concepts/security/#mutual-tls-authentication
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.core.v3.base_pb2 import DataSource, Metadata, TransportSocket
from envoy.config.core.v3.config_source_pb2 import AggregatedConfigSource, ApiVersion, ConfigSource
from envoy.config.listener.v3.listener_components_pb2 import (
    Filter,
    FilterChain,
    FilterChainMatch,
    ListenerFilter,
)
from envoy.extensions.filters.listener.tls_inspector.v3.tls_inspector_pb2 import TlsInspector
from envoy.extensions.transport_sockets.raw_buffer.v3.raw_buffer_pb2 import RawBuffer
from envoy.extensions.transport_sockets.tls.v3.common_pb2 import (
    CertificateValidationContext,
    SubjectAltNameMatcher,
    TlsCertificate,
    TlsParameters,
)
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import SdsSecretConfig
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import (
    CommonTlsContext,
    DownstreamTlsContext,
    UpstreamTlsContext,
)
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.struct_pb2 import Struct
from google.protobuf.wrappers_pb2 import BoolValue

from pilot.model.authn import DISABLE, PERMISSIVE, STRICT
from pilot.translate.secrets import ROOT_CA_SECRET, WORKLOAD_SECRET, sds_secret_config

SDS_DEFAULT = WORKLOAD_SECRET
SDS_ROOTCA = ROOT_CA_SECRET
TLS_SOCKET = "envoy.transport_sockets.tls"
RAW_BUFFER_SOCKET = "envoy.transport_sockets.raw_buffer"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"
TRANSPORT_SOCKET_MATCH_KEY = "envoy.transport_socket_match"

# ALPN values Istio uses to mark in-mesh traffic (pilot/pkg/networking/core/listener.go, util.go).
ALPN_IN_MESH = ("istio-peer-exchange", "istio")
ALPN_IN_MESH_H2 = ("istio-peer-exchange", "istio", "h2")
ALPN_ALL_ISTIO_MTLS = ("istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2")
ALPN_DOWNSTREAM_HTTP = ("h2", "http/1.1")
ALPN_DOWNSTREAM_TCP = ("istio-peer-exchange", "h2", "http/1.1")
ISTIO_CIPHERS = ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                 "AES256-GCM-SHA384", "AES128-GCM-SHA256")
# Where DestinationRule SIMPLE/MUTUAL without caCertificates finds the system roots (Istio: "system").
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _any(msg: Any) -> AnyPb:
    out = AnyPb()
    out.Pack(msg, deterministic=True)
    return out


def _credential_sds(name: str) -> SdsSecretConfig:
    # A DestinationRule credentialName may never exist; Envoy's default fetch timeout lets the cluster
    # come up (and fail TLS) rather than block warming, as Istio does for credential secrets.
    return SdsSecretConfig(name=name, sds_config=ConfigSource(
        ads=AggregatedConfigSource(), resource_api_version=ApiVersion.V3))


def istio_sni(port: int, subset: str, host: str) -> str:
    """Istio's default SNI for ISTIO_MUTUAL: `outbound_.<port>_.<subset>_.<fqdn>` (BuildDNSSrvSubsetKey)."""
    return f"outbound_.{port}_.{subset}_.{host}"


def san_matcher(value: str) -> SubjectAltNameMatcher:
    """An exact SAN match; the SAN type follows the value's shape (URI, IP address, else DNS)."""
    if "://" in value:
        san_type = SubjectAltNameMatcher.URI
    else:
        try:
            ipaddress.ip_address(value)
            san_type = SubjectAltNameMatcher.IP_ADDRESS
        except ValueError:
            san_type = SubjectAltNameMatcher.DNS
    return SubjectAltNameMatcher(san_type=san_type, matcher=StringMatcher(exact=value))


def _mesh_tls_params() -> TlsParameters:
    return TlsParameters(tls_minimum_protocol_version=TlsParameters.TLSv1_2,
                         tls_maximum_protocol_version=TlsParameters.TLSv1_3)


def _mesh_validation(sans: Sequence[str]) -> CommonTlsContext.CombinedCertificateValidationContext:
    return CommonTlsContext.CombinedCertificateValidationContext(
        default_validation_context=CertificateValidationContext(
            match_typed_subject_alt_names=[san_matcher(s) for s in sans]),
        validation_context_sds_secret_config=sds_secret_config(SDS_ROOTCA))


def downstream_tls_context(require_client_cert: bool = True, http: bool = True) -> DownstreamTlsContext:
    """The server side of Istio mTLS on an inbound chain: our cert `default`, peers checked against ROOTCA."""
    params = _mesh_tls_params()
    params.cipher_suites.extend(ISTIO_CIPHERS)
    common = CommonTlsContext(
        tls_params=params,
        alpn_protocols=ALPN_DOWNSTREAM_HTTP if http else ALPN_DOWNSTREAM_TCP,
        tls_certificate_sds_secret_configs=[sds_secret_config(SDS_DEFAULT)],
    )
    if require_client_cert:
        common.combined_validation_context.CopyFrom(_mesh_validation(()))
    return DownstreamTlsContext(common_tls_context=common,
                                require_client_certificate=BoolValue(value=require_client_cert))


def istio_mutual_upstream(sni: str, sans: Sequence[str], http2: bool = False) -> UpstreamTlsContext:
    """ISTIO_MUTUAL: present `default`, verify the server against ROOTCA and its SPIFFE ids."""
    common = CommonTlsContext(
        tls_params=_mesh_tls_params(),
        alpn_protocols=ALPN_IN_MESH_H2 if http2 else ALPN_IN_MESH,
        tls_certificate_sds_secret_configs=[sds_secret_config(SDS_DEFAULT)],
        combined_validation_context=_mesh_validation(sans),
    )
    return UpstreamTlsContext(common_tls_context=common, sni=sni)


def simple_upstream(sni: str = "", ca_certificates: str = "", subject_alt_names: Sequence[str] = (),
                    insecure_skip_verify: bool = False, credential_name: str = "",
                    http2: bool = False) -> UpstreamTlsContext:
    """DestinationRule `tls.mode: SIMPLE`: originate TLS and verify the server (unless told not to)."""
    common = CommonTlsContext(tls_params=_mesh_tls_params(), alpn_protocols=["h2"] if http2 else [])
    if not insecure_skip_verify:
        sans = [san_matcher(s) for s in subject_alt_names]
        if credential_name:
            common.combined_validation_context.CopyFrom(CommonTlsContext.CombinedCertificateValidationContext(
                default_validation_context=CertificateValidationContext(match_typed_subject_alt_names=sans),
                validation_context_sds_secret_config=_credential_sds(credential_name + "-cacert")))
        else:
            common.validation_context.CopyFrom(CertificateValidationContext(
                trusted_ca=DataSource(filename=ca_certificates or SYSTEM_CA_BUNDLE),
                match_typed_subject_alt_names=sans))
    return UpstreamTlsContext(common_tls_context=common, sni=sni)


def mutual_upstream(client_certificate: str = "", private_key: str = "", sni: str = "",
                    ca_certificates: str = "", subject_alt_names: Sequence[str] = (),
                    insecure_skip_verify: bool = False, credential_name: str = "",
                    http2: bool = False) -> UpstreamTlsContext:
    """DestinationRule `tls.mode: MUTUAL`: SIMPLE plus a client certificate from files or credentialName."""
    ctx = simple_upstream(sni, ca_certificates, subject_alt_names, insecure_skip_verify, credential_name,
                          http2)
    if credential_name:
        ctx.common_tls_context.tls_certificate_sds_secret_configs.append(_credential_sds(credential_name))
    else:
        if not client_certificate or not private_key:
            raise ValueError("MUTUAL TLS needs clientCertificate and privateKey (or credentialName)")
        ctx.common_tls_context.tls_certificates.append(TlsCertificate(
            certificate_chain=DataSource(filename=client_certificate),
            private_key=DataSource(filename=private_key)))
    return ctx


def tls_transport_socket(ctx: UpstreamTlsContext | DownstreamTlsContext) -> TransportSocket:
    return TransportSocket(name=TLS_SOCKET, typed_config=_any(ctx))


def raw_buffer_transport_socket() -> TransportSocket:
    return TransportSocket(name=RAW_BUFFER_SOCKET, typed_config=_any(RawBuffer()))


# ---- auto-mTLS -------------------------------------------------------------------------------------
def endpoint_tls_metadata() -> Metadata:
    """Metadata the EDS side puts on meshed endpoints so the `tlsMode-istio` socket match picks them."""
    md = Metadata()
    md.filter_metadata[TRANSPORT_SOCKET_MATCH_KEY].update({"tlsMode": "istio"})
    return md


def auto_mtls_transport_socket_matches(sni: str, sans: Sequence[str],
                                       http2: bool = False) -> list[Cluster.TransportSocketMatch]:
    """Istio auto-mTLS: mTLS to endpoints labelled `tlsMode: istio`, plaintext to the rest."""
    match = Struct()
    match.update({"tlsMode": "istio"})
    return [
        Cluster.TransportSocketMatch(name="tlsMode-istio", match=match, transport_socket=tls_transport_socket(
            istio_mutual_upstream(sni, sans, http2))),
        Cluster.TransportSocketMatch(name="tlsMode-disabled", match=Struct(),
                                     transport_socket=raw_buffer_transport_socket()),
    ]


@dataclass(frozen=True)
class UpstreamTransport:
    """What a cluster needs: a fixed transport socket, or auto-mTLS socket matches, or neither."""

    transport_socket: TransportSocket | None = None
    transport_socket_matches: tuple[Cluster.TransportSocketMatch, ...] = ()

    def apply(self, cluster: Cluster) -> None:
        if self.transport_socket is not None:
            cluster.transport_socket.CopyFrom(self.transport_socket)
        cluster.transport_socket_matches.extend(self.transport_socket_matches)


def upstream_transport(tls: Mapping[str, Any] | None, *, sni: str, sans: Sequence[str],
                       destination_mode: str, http2: bool = False) -> UpstreamTransport:
    """Client TLS for a cluster, from a DestinationRule `ClientTLSSettings` (already picked for the port
    and subset) or, without one, Istio auto-mTLS when `destination_mode` (see
    `pilot.model.authn.workload_mtls_mode`) is not DISABLE. `sni`/`sans` are the ISTIO_MUTUAL defaults.
    """
    if not tls:
        if destination_mode == DISABLE:
            return UpstreamTransport()
        return UpstreamTransport(transport_socket_matches=tuple(auto_mtls_transport_socket_matches(
            sni, sans, http2)))
    mode = str(tls.get("mode") or "DISABLE").upper()
    skip = bool(tls.get("insecureSkipVerify", False))
    user_sans = [str(s) for s in tls.get("subjectAltNames") or []]
    common: dict[str, Any] = dict(
        sni=str(tls.get("sni") or ""), ca_certificates=str(tls.get("caCertificates") or ""),
        subject_alt_names=user_sans, insecure_skip_verify=skip,
        credential_name=str(tls.get("credentialName") or ""), http2=http2)
    if mode == "ISTIO_MUTUAL":
        ctx = istio_mutual_upstream(common["sni"] or sni, user_sans or list(sans), http2)
    elif mode == "SIMPLE":
        ctx = simple_upstream(**common)
    elif mode == "MUTUAL":
        ctx = mutual_upstream(str(tls.get("clientCertificate") or ""), str(tls.get("privateKey") or ""),
                              **common)
    else:
        return UpstreamTransport()
    return UpstreamTransport(transport_socket=tls_transport_socket(ctx))


# ---- inbound filter chains -------------------------------------------------------------------------
def tls_inspector_filter() -> ListenerFilter:
    return ListenerFilter(name=TLS_INSPECTOR, typed_config=_any(TlsInspector()))


@dataclass(frozen=True)
class InboundChains:
    filter_chains: list[FilterChain] = field(default_factory=list)
    listener_filters: list[ListenerFilter] = field(default_factory=list)


def _chain(name: str, base: FilterChainMatch | None, transport: str, alpns: Sequence[str],
           filters: list[Filter], socket: TransportSocket | None) -> FilterChain:
    match = FilterChainMatch()
    if base is not None:
        match.CopyFrom(base)
    if transport:
        match.transport_protocol = transport
    match.application_protocols.extend(alpns)
    chain = FilterChain(name=name, filter_chain_match=match, filters=filters)
    if socket is not None:
        chain.transport_socket.CopyFrom(socket)
    return chain


def inbound_filter_chains(mode: str, http: bool, make_filters: Callable[[bool], list[Filter]], *,
                          name: str = "", match: FilterChainMatch | None = None) -> InboundChains:
    """Filter chains for one inbound port under a PeerAuthentication mode.

    `make_filters(mtls)` builds the network filters (HCM or tcp_proxy); `mtls` says whether the chain
    terminates Istio mTLS. `match` (e.g. destination_port) is copied into every chain.
    STRICT: one mTLS chain. PERMISSIVE: the mTLS chain (ALPN must be an Istio one) plus a plaintext
    chain, told apart by the TLS inspector; TCP also passes non-Istio TLS through. DISABLE: plaintext.
    """
    mtls_socket = tls_transport_socket(downstream_tls_context(http=http))
    if mode == STRICT:
        chains = [_chain(name, match, "tls", (), make_filters(True), mtls_socket)]
    elif mode == PERMISSIVE:
        chains = [_chain(name, match, "tls", ALPN_ALL_ISTIO_MTLS, make_filters(True), mtls_socket),
                  _chain(name, match, "raw_buffer", (), make_filters(False), None)]
        if not http:
            chains.append(_chain(name, match, "tls", (), make_filters(False), None))
    elif mode == DISABLE:
        return InboundChains([_chain(name, match, "", (), make_filters(False), None)], [])
    else:
        raise ValueError(f"unknown mTLS mode {mode!r}; expected STRICT, PERMISSIVE or DISABLE")
    return InboundChains(chains, [tls_inspector_filter()])
