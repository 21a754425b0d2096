
"""Sidecar and Gateway validation."""

from __future__ import annotations

from typing import Any

import pytest

EGRESS_ALL = {"hosts": ["./*", "istio-system/*"]}
SIDECAR_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("egress only", {"egress": [EGRESS_ALL]}, []),
    ("empty", {}, [("spec", "sidecar: empty configuration provided")]),
    ("selector ok", {"workloadSelector": {"labels": {"app": "ratings"}}, "egress": [EGRESS_ALL]}, []),
    ("selector empty", {"workloadSelector": {"labels": {}}, "egress": [EGRESS_ALL]},
     [("W", "spec.workloadSelector.labels", "workload selector specified without labels")]),
    ("selector wildcard", {"workloadSelector": {"labels": {"app": "rat*"}}, "egress": [EGRESS_ALL]},
     [("spec.workloadSelector.labels.app", "wildcard is not supported in selector")]),
    ("egress host no slash", {"egress": [{"hosts": ["reviews.default.svc.cluster.local"]}]},
     [("spec.egress[0].hosts[0]", "host must be of form namespace/dnsName")]),
    ("egress host short name", {"egress": [{"hosts": ["default/reviews"]}]},
     [("spec.egress[0].hosts[0]", "short names (non FQDN) are not allowed")]),
    ("egress host bad ns", {"egress": [{"hosts": ["Default/*"]}]},
     [("spec.egress[0].hosts[0]", "invalid namespace value 'Default' in sidecar")]),
    ("egress host excluded ns", {"egress": [{"hosts": ["~/*"]}]}, []),
    ("egress partial wildcard", {"egress": [{"hosts": ["ns/*foo.com"]}]},
     [("spec.egress[0].hosts[0]", "partial wildcard '*foo.com' not allowed")]),
    ("egress duplicate host", {"egress": [{"hosts": ["./*", "./*"]}]},
     [("W", "spec.egress[0].hosts[1]", "duplicated egress host: ./*")]),
    ("egress star star mixed", {"egress": [{"hosts": ["*/*", "ns/a.com"]}]},
     [("W", "spec.egress[0].hosts", "`*/*` host select all resources")]),
    ("egress no hosts", {"egress": [{"port": {"number": 80, "protocol": "HTTP", "name": "http"}}]},
     [("spec.egress[0].hosts", "sidecar: egress listener must contain at least one host")]),
    ("egress two catch-all", {"egress": [EGRESS_ALL, EGRESS_ALL]},
     [("spec.egress[0]", "the egress listener with empty port should be the last listener"),
      ("spec.egress[1]", "sidecar: egress can have only one listener with empty port")]),
    ("egress port ok", {"egress": [{"port": {"number": 9080, "protocol": "HTTP", "name": "http"}, "hosts": ["./*"],
                                    "bind": "127.0.0.1", "captureMode": "NONE"}, EGRESS_ALL]}, []),
    ("egress bad capture mode", {"egress": [{"captureMode": "TPROXY", "port": {"number": 80}, "hosts": ["./*"]}]},
     [("spec.egress[0].captureMode", "unsupported value 'TPROXY'")]),
    ("egress bad bind", {"egress": [{"port": {"number": 80}, "bind": "localhost", "hosts": ["./*"]}]},
     [("spec.egress[0].bind", "localhost is not a valid IP")]),
    ("egress bad protocol", {"egress": [{"port": {"number": 80, "protocol": "SPDY"}, "hosts": ["./*"]}]},
     [("spec.egress[0].port.protocol", "unsupported protocol: SPDY")]),
    ("egress duplicate ports", {"egress": [{"port": {"number": 80}, "hosts": ["./*"]},
                                           {"port": {"number": 80}, "hosts": ["./*"]}]},
     [("spec.egress[1].port.number", "sidecar: ports on IP bound listeners must be unique")]),
    ("egress uds", {"egress": [{"port": {"number": 0, "protocol": "HTTP"}, "bind": "unix:///var/run/a.sock",
                                "hosts": ["./*"]}]}, []),
    ("egress port zero without uds", {"egress": [{"port": {"number": 0}, "bind": "127.0.0.1", "hosts": ["./*"]}]},
     [("spec.egress[0].bind", "sidecar: ports with 0 value must have a unix domain socket bind address")]),
    ("ingress ok", {"ingress": [{"port": {"number": 9080, "protocol": "HTTP", "name": "http"},
                                 "defaultEndpoint": "127.0.0.1:8080"}]}, []),
    ("ingress unix endpoint", {"ingress": [{"port": {"number": 9080}, "defaultEndpoint": "unix:///tmp/app.sock"}]}, []),
    ("ingress no port", {"ingress": [{"defaultEndpoint": "127.0.0.1:8080"}]},
     [("spec.ingress[0].port", "sidecar: port is required for ingress listeners")]),
    ("ingress bad endpoint host", {"ingress": [{"port": {"number": 9080}, "defaultEndpoint": "10.0.0.1:8080"}]},
     [("spec.ingress[0].defaultEndpoint", "defaultEndpoint must be of form 127.0.0.1:<port>")]),
    ("ingress bad endpoint port", {"ingress": [{"port": {"number": 9080}, "defaultEndpoint": "127.0.0.1:http"}]},
     [("spec.ingress[0].defaultEndpoint", "defaultEndpoint port (http) is not a number")]),
    ("ingress endpoint port range", {"ingress": [{"port": {"number": 9080}, "defaultEndpoint": "0.0.0.0:0"}]},
     [("spec.ingress[0].defaultEndpoint", "port number 0 must be in the range")]),
    ("ingress dup ports", {"ingress": [{"port": {"number": 80}}, {"port": {"number": 80}}]},
     [("spec.ingress[1].port.number", "ports on IP bound listeners must be unique")]),
    ("ingress port name", {"ingress": [{"port": {"number": 80, "name": "HTTP_web"}}]},
     [("spec.ingress[0].port.name", "invalid port name: HTTP_web")]),
    ("outbound policy", {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}, []),
    ("outbound policy bad", {"outboundTrafficPolicy": {"mode": "DENY"}},
     [("spec.outboundTrafficPolicy.mode", "unsupported value 'DENY'")]),
    ("egress proxy needs allow any", {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY",
                                                                "egressProxy": {"host": "egress.com"}}},
     [("spec.outboundTrafficPolicy.egressProxy", "egress_proxy must be set only with ALLOW_ANY")]),
]


def server(protocol: str = "HTTP", number: int = 80, name: str = "http", hosts: Any = ("*",), **extra: Any):
    return {"port": {"number": number, "name": name, "protocol": protocol}, "hosts": list(hosts), **extra}


def gw(*servers: dict[str, Any]) -> dict[str, Any]:
    return {"selector": {"istio": "ingressgateway"}, "servers": list(servers)}


S = "spec.servers[0]"
GATEWAY_CASES: list[tuple[str, Any, list[tuple[str, ...]]]] = [
    ("http server", gw(server()), []),
    ("ns/host", gw(server(hosts=["prod/*.example.com", "./a.example.com"])), []),
    ("no servers", gw(), [("spec.servers", "gateway must have at least one server")]),
    ("no hosts", gw(server(hosts=[])), [(f"{S}.hosts", "server config must contain at least one host")]),
    ("short host", gw(server(hosts=["bookinfo"])), [(f"{S}.hosts[0]", "short names (non FQDN) are not allowed")]),
    ("bad host namespace", gw(server(hosts=["Prod/a.com"])),
     [(f"{S}.hosts[0]", "invalid namespace value 'Prod' in gateway")]),
    ("empty host part", gw(server(hosts=["prod/"])),
     [(f"{S}.hosts[0]", "config namespace and dnsName in host entry cannot be empty")]),
    ("ip host", gw(server(hosts=["10.0.0.1"])), []),
    ("bad host", gw(server(hosts=["a..com"])), [(f"{S}.hosts[0]", "domain name 'a..com' invalid")]),
    ("bad protocol", gw(server(protocol="QUIC")), [(f"{S}.port.protocol", "unsupported protocol: QUIC")]),
    ("no port name", gw(server(name="")), [(f"{S}.port.name", "port name must be set")]),
    ("bad port number", gw(server(number=70000)), [(f"{S}.port.number", "port number 70000")]),
    ("no port", gw({"hosts": ["*"]}), [(f"{S}.port", "port is required")]),
    ("duplicate port names", gw(server(), server(number=8080)),
     [("spec.servers[1].port.name", "port names in servers must be unique: duplicate name http")]),
    ("https without tls", gw(server("HTTPS", 443, "https")),
     [(S, "server must have TLS settings for HTTPS/TLS protocols")]),
    ("https simple credential", gw(server("HTTPS", 443, "https", tls={"mode": "SIMPLE", "credentialName": "c"})), []),
    ("https simple files", gw(server("HTTPS", 443, "https", tls={"mode": "SIMPLE", "serverCertificate": "/c",
                                                                 "privateKey": "/k"})), []),
    ("https simple nothing", gw(server("HTTPS", 443, "https", tls={"mode": "SIMPLE"})),
     [(f"{S}.tls", "SIMPLE TLS requires a server certificate"), (f"{S}.tls", "SIMPLE TLS requires a private key")]),
    ("mutual without ca", gw(server("HTTPS", 443, "https", tls={"mode": "MUTUAL", "serverCertificate": "/c",
                                                                "privateKey": "/k"})),
     [(f"{S}.tls", "MUTUAL TLS requires a client CA bundle")]),
    ("tls bad mode", gw(server("TLS", 443, "tls", tls={"mode": "STRICT"})),
     [(f"{S}.tls.mode", "unsupported value 'STRICT'")]),
    ("passthrough", gw(server("TLS", 443, "tls", tls={"mode": "PASSTHROUGH"})), []),
    ("istio mutual credential", gw(server("TLS", 15443, "tls", tls={"mode": "ISTIO_MUTUAL", "credentialName": "c"})),
     [(f"{S}.tls.credentialName", "ISTIO_MUTUAL TLS cannot have associated credentialName")]),
    ("credential and files", gw(server("HTTPS", 443, "https", tls={"mode": "SIMPLE", "credentialName": "c",
                                                                   "serverCertificate": "/c", "privateKey": "/k"})),
     [(f"{S}.tls", "only one of credential_name, credential_names")]),
    ("http redirect tls", gw(server(tls={"httpsRedirect": True})), []),
    ("http with tls mode", gw(server(tls={"mode": "SIMPLE", "credentialName": "c"})),
     [(f"{S}.tls", "server cannot have TLS settings for plain text HTTP ports")]),
    ("tcp with tls", gw(server("TCP", 31400, "tcp", tls={"httpsRedirect": True})),
     [(f"{S}.tls", "server cannot have TLS settings for non HTTPS/TLS ports")]),
    ("tls version", gw(server("HTTPS", 443, "https", tls={"mode": "SIMPLE", "credentialName": "c",
                                                          "minProtocolVersion": "TLSV1_4"})),
     [(f"{S}.tls.minProtocolVersion", "unsupported value 'TLSV1_4'")]),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in SIDECAR_CASES], ids=[c[0] for c in SIDECAR_CASES])
def test_sidecar(check, spec, expected):
    check("Sidecar", spec, expected)


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in GATEWAY_CASES], ids=[c[0] for c in GATEWAY_CASES])
def test_gateway(check, spec, expected):
    check("Gateway", spec, expected)


def test_gateway_name_must_be_a_label(check):
    check("Gateway", gw(server()), [("metadata.name", "invalid gateway name: 'main.gw'")], name="main.gw")
