"""Generated RBAC filters, TLS contexts and inbound chains against a real Envoy.

1. `envoy --mode validate` accepts a static bootstrap holding every kind of generated config.
2. Real traffic: DENY /admin from one client -> 403, others 200; an ipBlocks deny list; ALLOW by method;
   and on TCP the widened DENY (HTTP-only `paths` dropped) closes the connection for that client.
"""

from __future__ import annotations

import datetime
import http.client
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from envoy.config.listener.v3.listener_pb2 import Listener

from pilot.model.findings import Finding
from pilot.model.resource import Resource, resource_from_document
from pilot.translate.rbac import build_http_rbac_filters, build_network_rbac_filters
from pilot.translate.tls import endpoint_tls_metadata, inbound_filter_chains, upstream_transport
from tests.e2e.envoy_kit_authz import (
    address,
    bootstrap,
    direct_response_hcm,
    file_cds,
    free_port,
    loopback_ip,
    run_envoy,
    static_cluster,
    stats,
    tcp_proxy,
    validate,
    write_bootstrap,
)

pytestmark = pytest.mark.e2e


def ap(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> Resource:
    return resource_from_document(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": spec,
        }
    )


EVERY_FIELD = {
    "rules": [
        {
            "from": [
                {
                    "source": {
                        "principals": ["cluster.local/ns/a/sa/b", "*/sa/c", "td/ns/x/*", "*"],
                        "notPrincipals": ["x/ns/y/sa/z"],
                        "namespaces": ["a", "b*"],
                        "notNamespaces": ["c"],
                        "ipBlocks": ["10.0.0.0/8", "127.0.0.1"],
                        "notIpBlocks": ["10.1.0.0/16"],
                        "remoteIpBlocks": ["192.168.0.0/16"],
                        "notRemoteIpBlocks": ["::1"],
                        "requestPrincipals": ["iss/sub", "*", "*/s", "i/*", "*x", "y*"],
                        "notRequestPrincipals": ["bad/one"],
                        "serviceAccounts": ["sa1", "ns/sa2"],
                        "trustDomains": ["td", "*", "t*d"],
                    }
                }
            ],
            "to": [
                {
                    "operation": {
                        "hosts": ["a.b", "*.c", "d*", "*"],
                        "notHosts": ["e"],
                        "methods": ["GET", "*"],
                        "notMethods": ["DELETE"],
                        "paths": ["/x", "/y/*", "*.z", "*", "/t/{*}/u/{**}"],
                        "notPaths": ["/admin"],
                        "ports": ["80", "8080"],
                        "notPorts": ["9"],
                    }
                }
            ],
            "when": [
                {"key": "request.headers[x-a]", "values": ["v", "v*", "*v", "*"], "notValues": ["w"]},
                {"key": "source.ip", "values": ["127.0.0.1"]},
                {"key": "remote.ip", "values": ["10.0.0.0/8"]},
                {"key": "source.namespace", "values": ["a"]},
                {"key": "source.principal", "values": ["td/ns/a/sa/b"]},
                {"key": "destination.port", "values": ["80"]},
                {"key": "destination.ip", "values": ["10.0.0.1"]},
                {"key": "connection.sni", "values": ["*.svc"]},
                {"key": "request.auth.claims[groups]", "values": ["g"]},
                {"key": "request.auth.claims[a][b]", "values": ["c"]},
                {"key": "request.auth.audiences", "values": ["x"]},
                {"key": "request.auth.principal", "values": ["iss/sub"]},
            ],
        }
    ]
}


def all_kinds_of_policies() -> dict[str, list[Resource]]:
    return {
        "ALLOW": [ap("every-field", EVERY_FIELD), ap("deny-all", {}), ap("allow-all", {"rules": [{}]})],
        "DENY": [
            ap("deny-every-field", {"action": "DENY", **EVERY_FIELD}),
            ap("dry", {"action": "DENY", "rules": [{}]}, {"istio.io/dry-run": "true"}),
        ],
        "AUDIT": [ap("audit", {"action": "AUDIT", **EVERY_FIELD})],
        "CUSTOM": [ap("ext", {"action": "CUSTOM", "provider": {"name": "x"}, "rules": [{}]})],
    }


def write_certs(directory: Path) -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = {"ca": directory / "ca.pem", "key": directory / "key.pem"}
    paths["ca"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {k: str(v) for k, v in paths.items()}


def test_envoy_accepts_generated_rbac_tls_and_chains(tmp_path: Path) -> None:
    findings: list[Finding] = []
    policies = all_kinds_of_policies()
    http_rbac = build_http_rbac_filters(policies, "cluster.local", findings)
    tcp_rbac = build_network_rbac_filters(policies, "cluster.local", findings)
    assert len(http_rbac) == 3 and len(tcp_rbac) == 3
    listeners = []
    for i, (mode, is_http) in enumerate(
        [
            ("PERMISSIVE", True),
            ("STRICT", True),
            ("PERMISSIVE", False),
            ("STRICT", False),
            ("DISABLE", True),
            ("DISABLE", False),
        ]
    ):

        def filters(mtls: bool, is_http: bool = is_http) -> list[Any]:
            return [direct_response_hcm(http_rbac)] if is_http else tcp_proxy("auto-mtls", tcp_rbac)

        chains = inbound_filter_chains(mode, is_http, filters, name=f"0.0.0.0_{15000 + i}")
        listeners.append(
            Listener(
                name=f"l{i}",
                address=address("127.0.0.1", 15100 + i),
                listener_filters=chains.listener_filters,
                filter_chains=chains.filter_chains,
            )
        )
    clusters = [static_cluster("auto-mtls", "127.0.0.1", 9)]
    path = write_bootstrap(bootstrap("127.0.0.1", 15099, listeners, clusters, ads=True), tmp_path)
    result = validate(path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert any("CUSTOM" in f.message for f in findings)


def tls_clusters(certs: dict[str, str]) -> list[Any]:
    auto = static_cluster("auto-mtls", "127.0.0.1", 9, endpoint_tls_metadata())
    upstream_transport(
        None,
        sni="outbound_.80_._.a.default.svc.cluster.local",
        sans=["spiffe://cluster.local/ns/default/sa/a"],
        destination_mode="PERMISSIVE",
    ).apply(auto)
    clusters = [auto]
    for name, tls in [
        ("istio", {"mode": "ISTIO_MUTUAL"}),
        (
            "simple",
            {"mode": "SIMPLE", "caCertificates": certs["ca"], "subjectAltNames": ["a.example", "10.0.0.1"]},
        ),
        (
            "mutual",
            {
                "mode": "MUTUAL",
                "caCertificates": certs["ca"],
                "clientCertificate": certs["ca"],
                "privateKey": certs["key"],
                "sni": "x",
            },
        ),
        ("skip", {"mode": "SIMPLE", "insecureSkipVerify": True}),
        ("cred", {"mode": "MUTUAL", "credentialName": "cred"}),
    ]:
        c = static_cluster(name, "127.0.0.1", 9)
        upstream_transport(
            tls,
            sni="s",
            sans=["spiffe://cluster.local/ns/a/sa/b"],
            destination_mode="DISABLE",
            http2=name == "istio",
        ).apply(c)
        clusters.append(c)
    return clusters


def test_envoy_accepts_generated_cluster_tls_over_cds(tmp_path: Path) -> None:
    ip = loopback_ip()
    admin_port = free_port(ip)
    b = bootstrap(ip, admin_port, [], [], ads=True)
    file_cds(b, tls_clusters(write_certs(tmp_path)), tmp_path)
    with run_envoy(write_bootstrap(b, tmp_path), ip, admin_port, wait_ready=False) as envoy:
        deadline = time.monotonic() + 10
        while (got := stats(envoy.admin, "cluster_manager.cds")).get(
            "cluster_manager.cds.update_success", 0
        ) < 1:
            assert got.get("cluster_manager.cds.update_rejected", 0) == 0, envoy.log_tail()
            assert time.monotonic() < deadline, f"CDS file never applied: {got}\n{envoy.log_tail()}"
            time.sleep(0.05)
        assert got.get("cluster_manager.cds.update_rejected", 0) == 0, envoy.log_tail()


def test_envoy_rejects_broken_config_so_the_validation_test_can_fail(tmp_path: Path) -> None:
    chains = inbound_filter_chains("STRICT", True, lambda mtls: [direct_response_hcm([])])
    chains.filter_chains[0].filter_chain_match.transport_protocol = ""
    chains.filter_chains.append(chains.filter_chains[0])  # two identical matches: Envoy refuses
    listener = Listener(name="dup", address=address("127.0.0.1", 15200), filter_chains=chains.filter_chains)
    result = validate(write_bootstrap(bootstrap("127.0.0.1", 15201, [listener], [], ads=True), tmp_path))
    assert result.returncode != 0


# ---- real traffic ----------------------------------------------------------------------------------
def get(ip: str, port: int, path: str, source: str, method: str = "GET") -> int:
    conn = http.client.HTTPConnection(ip, port, timeout=5, source_address=(source, 0))
    try:
        conn.request(method, path, headers={"Host": "reviews"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_rbac_enforced_by_envoy(tmp_path: Path) -> None:
    ip = loopback_ip()
    client, admin_caller, banned = loopback_ip(), loopback_ip(), loopback_ip()
    http_port, tcp_port, admin_port = free_port(ip), free_port(ip), free_port(ip)
    deny_admin = ap(
        "deny-admin",
        {
            "action": "DENY",
            "rules": [
                {
                    "from": [{"source": {"ipBlocks": [admin_caller]}}],
                    "to": [{"operation": {"paths": ["/admin*"]}}],
                }
            ],
        },
    )
    deny_banned = ap(
        "deny-banned", {"action": "DENY", "rules": [{"from": [{"source": {"ipBlocks": [banned]}}]}]}
    )
    allow_get = ap("allow-get", {"rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
    http_rbac = build_http_rbac_filters({"DENY": [deny_admin, deny_banned], "ALLOW": [allow_get]})
    tcp_rbac = build_network_rbac_filters({"DENY": [deny_admin]})
    http_chains = inbound_filter_chains("DISABLE", True, lambda mtls: [direct_response_hcm(http_rbac)])
    tcp_chains = inbound_filter_chains("DISABLE", False, lambda mtls: tcp_proxy("http-listener", tcp_rbac))
    listeners = [
        Listener(name="http", address=address(ip, http_port), filter_chains=http_chains.filter_chains),
        Listener(name="tcp", address=address(ip, tcp_port), filter_chains=tcp_chains.filter_chains),
    ]
    clusters = [static_cluster("http-listener", ip, http_port)]
    path = write_bootstrap(bootstrap(ip, admin_port, listeners, clusters), tmp_path)
    with run_envoy(path, ip, admin_port) as envoy:
        try:
            assert get(ip, http_port, "/", client) == 200
            assert get(ip, http_port, "/admin", client) == 200  # only admin_caller is denied /admin
            assert get(ip, http_port, "/", admin_caller) == 200
            assert get(ip, http_port, "/admin/x", admin_caller) == 403
            assert get(ip, http_port, "/", banned) == 403
            assert get(ip, http_port, "/", client, method="POST") == 403  # ALLOW only lets GET through
            # TCP: the DENY rule lost its HTTP-only `paths`: admin_caller is denied everything (fail closed)
            assert get(ip, tcp_port, "/", client) == 200
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                get(ip, tcp_port, "/", admin_caller)
        except BaseException:
            print(envoy.log_tail())
            raise
