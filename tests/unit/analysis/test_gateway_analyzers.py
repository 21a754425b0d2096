"""Gateway analyzers: selector with no workload (IST0101), port not on the workload's Service (IST0104),
missing credentialName secret (IST0101), conflicting gateways (IST0145), VirtualService hosts a bound
gateway does not serve (IST0132)."""

from __future__ import annotations

import pytest

from tests.unit.analysis.kit import codes, findings, vs

INGRESS = """
apiVersion: v1
kind: Pod
metadata: {name: ingress-0, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: proxy, image: none}]}
status: {podIP: 10.0.9.1}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {selector: {istio: ingressgateway}, ports: [{name: http2, port: 80}, {name: https, port: 443}]}
"""
SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: bookinfo-cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: eA==, tls.key: eA==}
"""


def gateway(name: str = "gw", selector: str = "{istio: ingressgateway}", port: int = 80, hosts: str = '["*"]',
            tls: str = "") -> str:
    protocol = "HTTPS" if tls else "HTTP"
    tls_part = f", tls: {{mode: SIMPLE, credentialName: {tls}}}" if tls else ""
    return f"""
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: default}}
spec:
  selector: {selector}
  servers: [{{port: {{number: {port}, name: p{port}, protocol: {protocol}}}, hosts: {hosts}{tls_part}}}]
"""


@pytest.mark.parametrize(("extra", "expected"), [
    (INGRESS + "---\n" + gateway(), []),
    # selector matching no Pod
    (INGRESS + "---\n" + gateway(selector="{istio: egress}"), [("IST0101", "Gateway default/gw")]),
    # no Service of the gateway pods exposes the port
    (INGRESS + "---\n" + gateway(port=8080), [("IST0104", "Gateway default/gw")]),
    # the TLS secret must be in the gateway pods' namespace
    (INGRESS + "---\n" + SECRET + "---\n" + gateway(port=443, tls="bookinfo-cert"), []),
    (INGRESS + "---\n" + gateway(port=443, tls="bookinfo-cert"), [("IST0101", "Gateway default/gw")]),
    (INGRESS + "---\n" + SECRET.replace("istio-system", "default") + "---\n" + gateway(port=443, tls="bookinfo-cert"),
     [("IST0101", "Gateway default/gw")]),
    # same selector, port and an overlapping host: both conflict
    (INGRESS + "---\n" + gateway("a", hosts="[shop.example.com]") + "---\n" + gateway("b", hosts='["*.example.com"]'),
     [("IST0145", "Gateway default/a"), ("IST0145", "Gateway default/b")]),
    (INGRESS + "---\n" + gateway("a", hosts="[shop.example.com]") + "---\n" + gateway("b", hosts="[blog.example.com]"),
     []),
])
def test_gateway_findings(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


ROUTE = "http: [{route: [{destination: {host: reviews}}]}]"


@pytest.mark.parametrize(("gw_hosts", "vs_hosts", "expected"), [
    ('["*"]', "[bookinfo.example.com]", []),
    ("[bookinfo.example.com]", "[bookinfo.example.com]", []),
    ('["*.example.com"]', "[bookinfo.example.com]", []),
    ("[other.example.com]", "[bookinfo.example.com]", [("IST0132", "VirtualService default/r")]),
    # `ns/host`: only VirtualServices in that namespace may bind
    ('["shop/bookinfo.example.com"]', "[bookinfo.example.com]", [("IST0132", "VirtualService default/r")]),
    ('["./bookinfo.example.com"]', "[bookinfo.example.com]", []),
])
def test_virtual_service_host_in_gateway(gw_hosts: str, vs_hosts: str, expected: list[tuple[str, str]]) -> None:
    extra = INGRESS + "---\n" + gateway(hosts=gw_hosts) + "---\n" + vs("r", ROUTE, hosts=vs_hosts,
                                                                       extra="\n  gateways: [gw]")
    assert codes(extra) == expected


def test_messages() -> None:
    got = sorted((f.code, f.message) for f in findings(
        INGRESS + "---\n" + gateway(port=443, tls="nope") + "---\n" + gateway("x", selector="{app: none}")
        + "---\n" + gateway("y", port=8080)))
    assert got == [
        ("IST0101", 'Referenced credentialName not found: "nope"'),
        ("IST0101", 'Referenced selector not found: "app=none"'),
        ("IST0104", "The gateway refers to a port that is not exposed on the workload "
                    "(pod selector istio=ingressgateway; port 8080)"),
    ]
