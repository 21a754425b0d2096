"""mTLS contexts, DestinationRule TLS modes, auto-mTLS socket matches and inbound chains."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.listener.v3.listener_components_pb2 import Filter, FilterChainMatch
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import DownstreamTlsContext, UpstreamTlsContext
from google.protobuf import json_format

from pilot.translate.tls import (
    ALPN_ALL_ISTIO_MTLS,
    downstream_tls_context,
    endpoint_tls_metadata,
    inbound_filter_chains,
    istio_mutual_upstream,
    istio_sni,
    mutual_upstream,
    simple_upstream,
    upstream_transport,
)

ADS = {"ads": {}, "resourceApiVersion": "V3", "initialFetchTimeout": "0s"}
SANS = ["spiffe://cluster.local/ns/default/sa/reviews"]


def as_dict(msg: Any) -> dict[str, Any]:
    return json_format.MessageToDict(msg)


def test_istio_sni() -> None:
    assert (
        istio_sni(9080, "v1", "reviews.default.svc.cluster.local")
        == "outbound_.9080_.v1_.reviews.default.svc.cluster.local"
    )
    assert istio_sni(9080, "", "r.ns.svc.cluster.local") == "outbound_.9080_._.r.ns.svc.cluster.local"


def test_downstream_context_uses_sds_default_and_rootca() -> None:
    d = as_dict(downstream_tls_context())
    assert d["requireClientCertificate"] is True
    common = d["commonTlsContext"]
    assert common["tlsCertificateSdsSecretConfigs"] == [{"name": "default", "sdsConfig": ADS}]
    assert common["combinedValidationContext"]["validationContextSdsSecretConfig"] == {
        "name": "ROOTCA",
        "sdsConfig": ADS,
    }
    assert common["alpnProtocols"] == ["h2", "http/1.1"]
    assert common["tlsParams"]["tlsMinimumProtocolVersion"] == "TLSv1_2"
    tcp = as_dict(downstream_tls_context(http=False))["commonTlsContext"]
    assert tcp["alpnProtocols"] == ["istio-peer-exchange", "h2", "http/1.1"]


def test_downstream_context_without_client_certs() -> None:
    d = as_dict(downstream_tls_context(require_client_cert=False))
    assert d["requireClientCertificate"] is False
    assert "combinedValidationContext" not in d["commonTlsContext"]


def test_istio_mutual_upstream() -> None:
    d = as_dict(istio_mutual_upstream("outbound_.9080_._.r", SANS))
    assert d["sni"] == "outbound_.9080_._.r"
    common = d["commonTlsContext"]
    assert common["alpnProtocols"] == ["istio-peer-exchange", "istio"]
    assert common["tlsCertificateSdsSecretConfigs"] == [{"name": "default", "sdsConfig": ADS}]
    validation = common["combinedValidationContext"]
    assert validation["defaultValidationContext"]["matchTypedSubjectAltNames"] == [
        {"sanType": "URI", "matcher": {"exact": SANS[0]}}
    ]
    assert validation["validationContextSdsSecretConfig"]["name"] == "ROOTCA"
    assert as_dict(istio_mutual_upstream("s", SANS, http2=True))["commonTlsContext"]["alpnProtocols"] == [
        "istio-peer-exchange",
        "istio",
        "h2",
    ]


def test_simple_upstream_verifies_with_files_and_typed_sans() -> None:
    d = as_dict(
        simple_upstream(
            sni="api.example.com",
            ca_certificates="/etc/ca.pem",
            subject_alt_names=["api.example.com", "10.0.0.1", "spiffe://x/y"],
        )
    )
    assert d["sni"] == "api.example.com"
    vc = d["commonTlsContext"]["validationContext"]
    assert vc["trustedCa"] == {"filename": "/etc/ca.pem"}
    assert [m["sanType"] for m in vc["matchTypedSubjectAltNames"]] == ["DNS", "IP_ADDRESS", "URI"]
    skip = as_dict(simple_upstream(insecure_skip_verify=True))
    assert "validationContext" not in skip.get("commonTlsContext", {})


def test_mutual_upstream_files_and_credential_name() -> None:
    d = as_dict(mutual_upstream("/c.pem", "/k.pem", ca_certificates="/ca.pem"))
    assert d["commonTlsContext"]["tlsCertificates"] == [
        {"certificateChain": {"filename": "/c.pem"}, "privateKey": {"filename": "/k.pem"}}
    ]
    cred = as_dict(mutual_upstream(credential_name="client-cred"))["commonTlsContext"]
    assert cred["tlsCertificateSdsSecretConfigs"][0]["name"] == "client-cred"
    assert (
        cred["combinedValidationContext"]["validationContextSdsSecretConfig"]["name"] == "client-cred-cacert"
    )
    with pytest.raises(ValueError, match="clientCertificate"):
        mutual_upstream(client_certificate="/c.pem")


def upstream_ctx(transport: Any) -> dict[str, Any]:
    ctx = UpstreamTlsContext()
    assert transport.transport_socket.typed_config.Unpack(ctx)
    return as_dict(ctx)


def test_upstream_transport_auto_mtls() -> None:
    t = upstream_transport(None, sni="outbound_.80_._.h", sans=SANS, destination_mode="PERMISSIVE")
    assert t.transport_socket is None
    names = [m.name for m in t.transport_socket_matches]
    assert names == ["tlsMode-istio", "tlsMode-disabled"]
    assert as_dict(t.transport_socket_matches[0].match) == {"tlsMode": "istio"}
    assert t.transport_socket_matches[1].transport_socket.name == "envoy.transport_sockets.raw_buffer"
    cluster = Cluster(name="outbound|80||h")
    t.apply(cluster)
    assert len(cluster.transport_socket_matches) == 2 and not cluster.HasField("transport_socket")
    # the endpoint side matches the istio socket
    md = as_dict(endpoint_tls_metadata())
    assert md == {"filterMetadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}}


def test_upstream_transport_disabled_destination_and_dr_modes() -> None:
    assert (
        upstream_transport(None, sni="s", sans=SANS, destination_mode="DISABLE").transport_socket_matches
        == ()
    )
    assert (
        upstream_transport(
            {"mode": "DISABLE"}, sni="s", sans=SANS, destination_mode="STRICT"
        ).transport_socket
        is None
    )
    istio = upstream_ctx(
        upstream_transport({"mode": "ISTIO_MUTUAL"}, sni="s", sans=SANS, destination_mode="DISABLE")
    )
    assert istio["sni"] == "s"
    assert istio["commonTlsContext"]["combinedValidationContext"]["defaultValidationContext"][
        "matchTypedSubjectAltNames"
    ][0]["matcher"] == {"exact": SANS[0]}
    own = upstream_ctx(
        upstream_transport(
            {"mode": "ISTIO_MUTUAL", "sni": "mine", "subjectAltNames": ["spiffe://a/b"]},
            sni="s",
            sans=SANS,
            destination_mode="STRICT",
        )
    )
    assert own["sni"] == "mine"
    simple = upstream_ctx(
        upstream_transport(
            {"mode": "SIMPLE", "sni": "ext", "caCertificates": "/ca"},
            sni="s",
            sans=SANS,
            destination_mode="DISABLE",
        )
    )
    assert simple["sni"] == "ext" and simple["commonTlsContext"]["validationContext"]["trustedCa"] == {
        "filename": "/ca"
    }
    mutual = upstream_ctx(
        upstream_transport(
            {"mode": "MUTUAL", "clientCertificate": "/c", "privateKey": "/k"},
            sni="s",
            sans=SANS,
            destination_mode="DISABLE",
        )
    )
    assert mutual["commonTlsContext"]["tlsCertificates"][0]["privateKey"] == {"filename": "/k"}


def fake_filters(mtls: bool) -> list[Filter]:
    return [Filter(name="mtls" if mtls else "plain")]


def chain_summary(chains: Any) -> list[tuple[str, tuple[str, ...], str, bool]]:
    return [
        (
            c.filter_chain_match.transport_protocol,
            tuple(c.filter_chain_match.application_protocols),
            c.filters[0].name,
            c.HasField("transport_socket"),
        )
        for c in chains.filter_chains
    ]


def test_strict_chain() -> None:
    chains = inbound_filter_chains(
        "STRICT",
        True,
        fake_filters,
        name="0.0.0.0_9080",
        match=FilterChainMatch(destination_port={"value": 9080}),
    )
    assert chain_summary(chains) == [("tls", (), "mtls", True)]
    assert [f.name for f in chains.listener_filters] == ["envoy.filters.listener.tls_inspector"]
    chain = chains.filter_chains[0]
    assert chain.name == "0.0.0.0_9080" and chain.filter_chain_match.destination_port.value == 9080
    ctx = DownstreamTlsContext()
    assert chain.transport_socket.typed_config.Unpack(ctx) and ctx.require_client_certificate.value


def test_permissive_chains() -> None:
    http = inbound_filter_chains("PERMISSIVE", True, fake_filters)
    assert chain_summary(http) == [
        ("tls", ALPN_ALL_ISTIO_MTLS, "mtls", True),
        ("raw_buffer", (), "plain", False),
    ]
    assert [f.name for f in http.listener_filters] == ["envoy.filters.listener.tls_inspector"]
    tcp = inbound_filter_chains("PERMISSIVE", False, fake_filters)
    assert chain_summary(tcp) == [
        ("tls", ALPN_ALL_ISTIO_MTLS, "mtls", True),
        ("raw_buffer", (), "plain", False),
        ("tls", (), "plain", False),
    ]


def test_disable_chain() -> None:
    chains = inbound_filter_chains("DISABLE", True, fake_filters)
    assert chain_summary(chains) == [("", (), "plain", False)]
    assert chains.listener_filters == []
    with pytest.raises(ValueError, match="unknown mTLS mode"):
        inbound_filter_chains("UNSET", True, fake_filters)
