"""IST0113 (DestinationRule TLS mode vs the servers' PeerAuthentication) and Service port naming
(IST0118/IST0150) with Istio's system-namespace rules."""

from __future__ import annotations

import pytest

from tests.unit.analysis.kit import MESH, codes, findings

BASE = MESH[:MESH.index("---\napiVersion: networking.istio.io/v1\nkind: DestinationRule")]
DR = "DestinationRule default/reviews"


def dr(tls: str, port_level: str = "") -> str:
    pls = f", portLevelSettings: [{{port: {{number: 9080}}, tls: {{mode: {port_level}}}}}]" if port_level else ""
    return f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: default}}
spec: {{host: reviews, trafficPolicy: {{tls: {{mode: {tls}}}{pls}}}}}
"""


def pa(mode: str, namespace: str = "default", selector: str = "", port_mode: str = "") -> str:
    sel = f"selector: {{matchLabels: {selector}}}, " if selector else ""
    port = f", portLevelMtls: {{9080: {{mode: {port_mode}}}}}" if port_mode else ""
    return f"""
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: pa, namespace: {namespace}}}
spec: {{{sel}mtls: {{mode: {mode}}}{port}}}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    (dr("ISTIO_MUTUAL") + "---\n" + pa("STRICT"), []),
    (dr("ISTIO_MUTUAL") + "---\n" + pa("PERMISSIVE"), []),
    (dr("ISTIO_MUTUAL") + "---\n" + pa("DISABLE"), [("IST0113", DR)]),
    (dr("DISABLE") + "---\n" + pa("STRICT"), [("IST0113", DR)]),
    # (SIMPLE without caCertificates is also IST0128)
    (dr("SIMPLE") + "---\n" + pa("STRICT", namespace="istio-system"), [("IST0113", DR), ("IST0128", DR)]),
    (dr("DISABLE") + "---\n" + pa("PERMISSIVE"), []),
    # the workload policy beats the namespace one; port-level settings win on both sides
    (dr("DISABLE") + "---\n" + pa("STRICT", namespace="istio-system") + "---\n"
     + pa("PERMISSIVE", selector="{app: reviews}"), []),
    (dr("ISTIO_MUTUAL") + "---\n" + pa("STRICT", selector="{app: reviews}", port_mode="DISABLE"), [("IST0113", DR)]),
    (dr("DISABLE", port_level="ISTIO_MUTUAL") + "---\n" + pa("STRICT"), []),
    # without PeerAuthentication the servers are PERMISSIVE
    (dr("DISABLE"), []),
])
def test_mtls_conflicts(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra, base=BASE) == expected


def test_mtls_message() -> None:
    (f,) = findings(dr("ISTIO_MUTUAL") + "---\n" + pa("DISABLE"), base=BASE)
    assert f.message == ('A DestinationRule and Policy are in conflict with regards to mTLS for host '
                         'reviews.default.svc.cluster.local. The DestinationRule "default/reviews" specifies that '
                         'mTLS must be true but the Policy object "default/pa" specifies DISABLE.')
    assert f.field == "spec.trafficPolicy.tls.mode" and f.is_error


@pytest.mark.parametrize(("tls", "expected"), [
    ("{tls: {mode: SIMPLE}}", [("IST0128", DR)]),
    ("{tls: {mode: MUTUAL, clientCertificate: /c, privateKey: /k}}", [("IST0128", DR)]),
    ("{tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}}", []),
    ("{tls: {mode: ISTIO_MUTUAL}}", []),
    ("{portLevelSettings: [{port: {number: 9080}, tls: {mode: SIMPLE}}]}", [("IST0129", DR)]),
    ("{portLevelSettings: [{port: {number: 9080}, tls: {mode: SIMPLE, caCertificates: /ca}}]}", []),
])
def test_server_certificate_verification(tls: str, expected: list[tuple[str, str]]) -> None:
    extra = f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: default}}
spec: {{host: reviews, trafficPolicy: {tls}}}
"""
    assert codes(extra, base=BASE) == expected


def test_server_certificate_verification_message() -> None:
    (f,) = findings(dr("SIMPLE"), base=BASE)
    assert f.message == ("DestinationRule default/reviews in namespace default has TLS mode set to SIMPLE but no "
                         "caCertificates are set to validate server identity for host: reviews")


def svc(namespace: str, ports: str, labels: str = "{}", kind: str = "") -> str:
    type_part = f"type: {kind}, externalName: api.example.com, " if kind else ""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: legacy, namespace: {namespace}, labels: {labels}}}
spec: {{{type_part}selector: {{app: legacy}}, ports: {ports}}}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    (svc("default", "[{name: http-web, port: 80}, {name: x, port: 81, appProtocol: http}]"), []),
    (svc("default", "[{name: web, port: 80}]"), [("IST0118", "Service default/legacy")]),
    (svc("default", "[{port: 80}]"), [("IST0118", "Service default/legacy")]),
    (svc("default", "[{name: dns, port: 53, protocol: UDP}]"), []),
    # Kubernetes system namespaces are skipped; istio-system only for the control plane's own Services
    (svc("kube-system", "[{name: web, port: 80}]"), []),
    (svc("kube-public", "[{name: web, port: 80}]"), []),
    (svc("kube-node-lease", "[{name: web, port: 80}]"), []),
    (svc("local-path-storage", "[{name: web, port: 80}]"), []),
    (svc("istio-system", "[{name: web, port: 80}]"), [("IST0118", "Service istio-system/legacy")]),
    (svc("istio-system", "[{name: web, port: 80}]", labels="{istio: pilot}"), []),
    (svc("istio-system", "[{name: web, port: 80}]", labels="{release: istio}"), []),
    # ExternalName Services: IST0150, also for a port named plain tcp
    (svc("default", "[{name: tcp, port: 80}]", kind="ExternalName"), [("IST0150", "Service default/legacy")]),
    (svc("default", "[{name: http, port: 80}]", kind="ExternalName"), []),
])
def test_port_names(extra: str, expected: list[tuple[str, str]]) -> None:
    assert codes(extra) == expected


def test_port_name_message_keeps_its_apostrophe() -> None:
    (f,) = findings(svc("default", "[{name: web, port: 80, targetPort: 8080}]"))
    assert f.message == "Port name web (port: 80, targetPort: 8080) doesn't follow the naming convention of Istio port."
