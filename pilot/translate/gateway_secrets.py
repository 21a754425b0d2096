"""Gateway server certificates: `credentialName` -> an SDS Secret `kubernetes://<name>` built from a
`kubernetes.io/tls` Secret in the gateway pod's namespace (Istio's credentials naming,
pilot/pkg/model/credentials/resource.go). `ca.crt`, when present, is served as `kubernetes://<name>-cacert`
for MUTUAL servers.
https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from google.protobuf import any_pb2, wrappers_pb2

from pilot.model.gateway import GatewayServer
from pilot.model.proxy import ProxyView
from pilot.model.resource import ConfigKey
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.pb import pack
from pilot.translate.secrets import sds_secret_config

CREDENTIAL_PREFIX = "kubernetes://"
CA_SUFFIX = "-cacert"


def credential_resource_name(credential: str) -> str:
    return credential if "://" in credential else CREDENTIAL_PREFIX + credential


def _decoded(data: Mapping[str, Any], *keys: str) -> bytes:
    for k in keys:
        if data.get(k):
            try:
                return base64.b64decode(str(data[k]), validate=True)
            except (binascii.Error, ValueError):
                return b""
    return b""


def credential_secrets(snapshot: MeshSnapshot, view: ProxyView, credential: str) -> list[secret_pb2.Secret]:
    """The certificate (and CA, if the Secret has one) for `credentialName`; none if the Secret is absent."""
    res = snapshot.lookup(_secret_key(view.namespace, credential))
    if res is None:
        return []
    data = res.body.get("data") or {}
    name = credential_resource_name(credential)
    out = []
    cert, key = _decoded(data, "tls.crt", "cert"), _decoded(data, "tls.key", "key")
    if cert and key:
        out.append(secret_pb2.Secret(name=name, tls_certificate=common_pb2.TlsCertificate(
            certificate_chain=base_pb2.DataSource(inline_bytes=cert),
            private_key=base_pb2.DataSource(inline_bytes=key))))
    ca = _decoded(data, "ca.crt", "cacert")
    if ca:
        out.append(secret_pb2.Secret(name=name + CA_SUFFIX, validation_context=common_pb2.CertificateValidationContext(
            trusted_ca=base_pb2.DataSource(inline_bytes=ca))))
    return out


def _secret_key(namespace: str, name: str) -> ConfigKey:
    return ConfigKey("Secret", namespace, name.removeprefix(CREDENTIAL_PREFIX))


def gateway_secrets(snapshot: MeshSnapshot, view: ProxyView, servers: list[GatewayServer]) -> dict[str, any_pb2.Any]:
    out: dict[str, any_pb2.Any] = {}
    for s in servers:
        credential = str(s.tls.get("credentialName") or "") if s.tls else ""
        if credential:
            for secret in credential_secrets(snapshot, view, credential):
                out[secret.name] = pack(secret)
    return out


def downstream_tls_context(server: GatewayServer) -> tls_pb2.DownstreamTlsContext:
    """SIMPLE: present the credential; MUTUAL: also require a client certificate from its CA."""
    name = credential_resource_name(str(server.tls.get("credentialName") or ""))
    ctx = tls_pb2.DownstreamTlsContext()
    common = ctx.common_tls_context
    common.tls_certificate_sds_secret_configs.append(sds_secret_config(name))
    common.alpn_protocols.extend(["h2", "http/1.1"] if server.terminates_http else [])
    if server.tls_mode == "MUTUAL":
        common.validation_context_sds_secret_config.CopyFrom(sds_secret_config(name + CA_SUFFIX))
        ctx.require_client_certificate.CopyFrom(wrappers_pb2.BoolValue(value=True))
    return ctx
