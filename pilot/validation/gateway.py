"""Gateway: servers with port, hosts and TLS
(https://istio.io/latest/docs/reference/config/networking/gateway/)."""

from __future__ import annotations

from pilot.validation.fields import check_enum, check_port, check_workload_labels, is_dns1123_label
from pilot.validation.hostnames import check_namespace_slash_host
from pilot.validation.node import Node, Report
from pilot.validation.protocols import HTTP_PROTOCOLS, TLS_PROTOCOLS, check_protocol

SERVER_TLS_MODES = ("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL")
TLS_VERSIONS = ("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")


def validate_gateway(report: Report, spec: Node) -> None:
    if not is_dns1123_label(report.resource.name):
        report.error("metadata.name", f"invalid gateway name: {report.resource.name!r}")
    check_workload_labels(spec["selector"], what="gateway selector")
    servers = spec["servers"].items()
    if not servers:
        spec["servers"].error("gateway must have at least one server")
    names: set[str] = set()
    for server in servers:
        _check_server(server)
        name = server["port"]["name"].value
        if isinstance(name, str) and name:
            if name in names:
                server["port"]["name"].error(f"port names in servers must be unique: duplicate name {name}")
            names.add(name)


def _check_server(server: Node) -> None:
    hosts = server["hosts"].strings()
    if not hosts:
        server["hosts"].error("server config must contain at least one host")
    for item, host in hosts:
        check_namespace_slash_host(item, host, gateway=True)
    protocol = _check_server_port(server["port"])
    tls = server["tls"]
    check_server_tls(tls)
    if protocol is None:
        return
    if protocol in TLS_PROTOCOLS and not tls.present:
        server.error("server must have TLS settings for HTTPS/TLS protocols")
    elif protocol not in TLS_PROTOCOLS and tls.present:
        # On a plain HTTP port only `httpsRedirect` makes sense.
        if protocol not in HTTP_PROTOCOLS:
            tls.error("server cannot have TLS settings for non HTTPS/TLS ports")
        elif tls.keys_present("mode", "serverCertificate", "privateKey", "caCertificates", "credentialName"):
            tls.error("server cannot have TLS settings for plain text HTTP ports")


def _check_server_port(port: Node) -> str | None:
    if not port.present:
        port.error("port is required")
        return None
    if not port["protocol"].present:
        port["protocol"].error("protocol is required")
    protocol = check_protocol(port["protocol"])
    check_port(port["number"], required=True, what="port number")
    if not port["name"].text():
        port["name"].error("port name must be set")
    if port.has("targetPort"):
        port["targetPort"].warning("targetPort has no impact on Gateways")
    return protocol


def check_server_tls(tls: Node) -> None:
    if not tls.present:
        return
    mode = check_enum(tls["mode"], SERVER_TLS_MODES)
    check_enum(tls["minProtocolVersion"], TLS_VERSIONS)
    check_enum(tls["maxProtocolVersion"], TLS_VERSIONS)
    tls["httpsRedirect"].flag()
    if mode == "ISTIO_MUTUAL":
        for field in ("serverCertificate", "privateKey", "caCertificates", "credentialName",
                      "credentialNames", "tlsCertificates"):
            if tls.has(field):
                tls[field].error(f"ISTIO_MUTUAL TLS cannot have associated {field}")
        return
    credentials = tls.keys_present("credentialName", "credentialNames", "tlsCertificates")
    files = tls.keys_present("serverCertificate", "privateKey")
    if len(credentials) + (1 if files else 0) > 1:
        tls.error("only one of credential_name, credential_names, server_certificate/private_key, "
                  "tls_certificates should be specified")
    if mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL") and not credentials:
        label = "MUTUAL" if mode == "OPTIONAL_MUTUAL" else mode
        if not tls.has("serverCertificate"):
            tls.error(f"{label} TLS requires a server certificate")
        if not tls.has("privateKey"):
            tls.error(f"{label} TLS requires a private key")
        if mode != "SIMPLE" and not tls.has("caCertificates"):
            tls.error(f"{label} TLS requires a client CA bundle")
