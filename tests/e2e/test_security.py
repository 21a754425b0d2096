"""Issue 4 end to end: `pilot serve --ca-dir` with real Envoy sidecars.

One mesh (certificate TTL 60 s, so rotation happens while the module runs):
- ratings: PeerAuthentication STRICT, AuthorizationPolicy DENY on path /admin;
- details: PERMISSIVE (the default), DENY from the trusted-namespace client's IP (ipBlocks);
- reviews: DISABLE;
- vault: ALLOW only from namespace `trusted`;
- clients: productpage (namespace default) and client (namespace trusted).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from pilot.ca.authority import CertificateAuthority
from pilot.testing.mesh import SERVICE_PORT, LoopbackMesh, PodSpec
from pilot.testing.processes import http_get
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e

TD = "cluster.local"
WORKLOADS = [("productpage", "v1"), ("ratings", "v1"), ("details", "v1"), ("reviews", "v1"), ("vault", "v1")]


def _fqdn(service: str, ns: str = "default") -> str:
    return f"{service}.{ns}.svc.cluster.local"


def _policies(trusted_client_ip: str) -> list[dict]:
    def pa(name: str, mode: str) -> dict:
        return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": name}}, "mtls": {"mode": mode}}}

    def ap(name: str, app: str, action: str, rules: list[dict]) -> dict:
        return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": app}}, "action": action, "rules": rules}}

    return [
        pa("ratings", "STRICT"),
        pa("reviews", "DISABLE"),
        ap("deny-admin", "ratings", "DENY", [{"to": [{"operation": {"paths": ["/admin"]}}]}]),
        ap("only-trusted", "vault", "ALLOW", [{"from": [{"source": {"namespaces": ["trusted"]}}]}]),
        ap("block-ip", "details", "DENY", [{"from": [{"source": {"ipBlocks": [f"{trusted_client_ip}/32"]}}]}]),
    ]


@pytest.fixture(scope="module")
def mesh_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshRunner]:
    mesh = LoopbackMesh.build(WORKLOADS)
    mesh.pods = [dataclasses.replace(p, egress_hosts=("*/*",)) for p in mesh.pods]
    trusted = PodSpec("client", "v1", 30, mesh.pods[0].block, namespace="trusted", egress_hosts=("*/*",))
    mesh.pods.append(trusted)
    mesh.services[("trusted", "client")] = SERVICE_PORT
    cfg = tmp_path_factory.mktemp("security-config")
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    (cfg / "security.yaml").write_text(yaml.safe_dump_all(_policies(trusted.ip)))
    runner = MeshRunner(cfg, mesh, ca_dir=tmp_path_factory.mktemp("ca"), cert_ttl="60s", xds_tls=True)
    with runner.running():
        yield runner


@pytest.fixture(scope="module")
def client_cert(mesh_runner: MeshRunner, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """(chain, key, root) files of a workload certificate for a test client in namespace `default`."""
    assert mesh_runner.ca_dir is not None
    ca = CertificateAuthority.load_or_create(mesh_runner.ca_dir, TD)
    cert = ca.issue_workload("default", "test-client", ttl_s=600)
    d = tmp_path_factory.mktemp("client-cert")
    (d / "chain.pem").write_bytes(cert.cert_chain_pem)
    (d / "key.pem").write_bytes(cert.key_pem)
    (d / "root.pem").write_bytes(ca.root_pem)
    return str(d / "chain.pem"), str(d / "key.pem"), str(d / "root.pem")


def _plain_get(ip: str, path: str = "/") -> int:
    """A plaintext request straight to a sidecar's inbound port; -1 when the connection is refused/reset."""
    try:
        status, _ = http_get(f"http://{ip}:{SERVICE_PORT}{path}", timeout=3)
        return status
    except (OSError, http.client.HTTPException):
        return -1


def _mtls_get(ip: str, cert: tuple[str, str, str], path: str = "/") -> tuple[int, x509.Certificate]:
    """An HTTP request over mTLS with a mesh certificate; the status and the certificate the server showed.
    The server's chain is verified against the mesh root (hostname checks do not apply to SPIFFE ids)."""
    chain, key, root = cert
    ctx = ssl.create_default_context(cafile=root)
    ctx.check_hostname = False
    ctx.load_cert_chain(chain, key)
    ctx.set_alpn_protocols(["istio", "http/1.1"])
    with socket.create_connection((ip, SERVICE_PORT), timeout=5) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, x509.load_der_x509_certificate(der)


def _uri_sans(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier)


def _status(client: MeshClient, host: str, path: str = "/") -> int:
    return client.request(host, path)[0]


def _app_answered(client: MeshClient, host: str) -> dict:
    status, _h, body = client.request(host, "/")
    assert status == 200, body
    return dict(json.loads(body))


# ---- PeerAuthentication ------------------------------------------------------------------------------
def test_strict_refuses_plaintext_and_serves_mesh_clients(mesh_runner: MeshRunner) -> None:
    ratings = mesh_runner.mesh.pod("ratings")
    assert _plain_get(ratings.ip) == -1
    client = MeshClient(mesh_runner.mesh.pod("productpage"))
    assert _app_answered(client, _fqdn("ratings"))["service"] == "ratings"


def test_strict_server_presents_its_spiffe_id_chained_to_the_mesh_root(
        mesh_runner: MeshRunner, client_cert: tuple[str, str, str]) -> None:
    ratings = mesh_runner.mesh.pod("ratings")
    status, cert = _mtls_get(ratings.ip, client_cert)  # ssl verified the chain against the root
    assert status == 200
    assert _uri_sans(cert) == [f"spiffe://{TD}/ns/default/sa/{ratings.sa}"]
    root = x509.load_pem_x509_certificate(Path(client_cert[2]).read_bytes())
    cert.verify_directly_issued_by(root)


def test_permissive_accepts_plaintext_and_mtls(mesh_runner: MeshRunner, client_cert: tuple[str, str, str]) -> None:
    details = mesh_runner.mesh.pod("details")
    assert _plain_get(details.ip) == 200
    status, cert = _mtls_get(details.ip, client_cert)
    assert status == 200
    assert _uri_sans(cert) == [f"spiffe://{TD}/ns/default/sa/{details.sa}"]
    assert _app_answered(MeshClient(mesh_runner.mesh.pod("productpage")), _fqdn("details"))["service"] == "details"


def test_disable_is_plaintext_and_mesh_clients_follow(mesh_runner: MeshRunner,
                                                      client_cert: tuple[str, str, str]) -> None:
    reviews = mesh_runner.mesh.pod("reviews")
    assert _plain_get(reviews.ip) == 200
    with pytest.raises((ssl.SSLError, OSError)):
        _mtls_get(reviews.ip, client_cert)
    # auto-mTLS leaves the endpoint unlabelled, so the client sidecar talks plaintext to it
    assert _app_answered(MeshClient(mesh_runner.mesh.pod("productpage")), _fqdn("reviews"))["service"] == "reviews"


# ---- AuthorizationPolicy -----------------------------------------------------------------------------
def test_deny_on_a_path_answers_403_and_other_paths_pass(mesh_runner: MeshRunner) -> None:
    client = MeshClient(mesh_runner.mesh.pod("productpage"))
    assert _status(client, _fqdn("ratings"), "/admin") == 403
    assert _status(client, _fqdn("ratings"), "/ratings/1") == 200


def test_allow_only_from_a_namespace(mesh_runner: MeshRunner) -> None:
    trusted = MeshClient(mesh_runner.mesh.pod("client"))
    assert _app_answered(trusted, _fqdn("vault"))["service"] == "vault"
    assert _status(MeshClient(mesh_runner.mesh.pod("productpage")), _fqdn("vault")) == 403


def test_ip_block_deny_list_blocks_its_client(mesh_runner: MeshRunner) -> None:
    assert _status(MeshClient(mesh_runner.mesh.pod("client")), _fqdn("details")) == 403
    assert _status(MeshClient(mesh_runner.mesh.pod("productpage")), _fqdn("details")) == 200


def test_no_proxy_rejected_any_config(mesh_runner: MeshRunner) -> None:
    for pod in mesh_runner.mesh.pods:
        assert mesh_runner.envoy_stat(pod, "update_rejected") == 0, pod.name


def test_ads_stream_runs_over_tls_and_plaintext_xds_is_refused(mesh_runner: MeshRunner) -> None:
    for pod in mesh_runner.mesh.pods:
        assert mesh_runner.envoy_stat(pod, "cluster.xds-grpc.ssl.handshake") >= 1, pod.name
    with socket.create_connection(("127.0.0.1", mesh_runner.xds_port), timeout=5) as raw:
        raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  # the HTTP/2 preface, in clear
        raw.settimeout(5)
        try:
            answer = raw.recv(1024)
        except OSError:
            answer = b""
    assert not answer.startswith(b"\x00\x00")  # no HTTP/2 SETTINGS frame back: the port only speaks TLS


# ---- rotation ----------------------------------------------------------------------------------------
def _served_serials(pod: PodSpec) -> set[str]:
    """Serials of the workload certificates the sidecar's TLS contexts hold now (Envoy admin /certs)."""
    status, body = http_get(f"http://{pod.admin}:15000/certs")
    assert status == 200
    serials = {c["serial_number"] for entry in json.loads(body)["certificates"]
               for c in entry.get("cert_chain", []) if any("spiffe://" in s.get("uri", "")
                                                           for s in c.get("subject_alt_names", []))}
    return serials


def test_two_rotations_under_steady_traffic_drop_no_request(mesh_runner: MeshRunner,
                                                            client_cert: tuple[str, str, str]) -> None:
    ratings = mesh_runner.mesh.pod("ratings")
    results: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        client = MeshClient(mesh_runner.mesh.pod("productpage"))
        while not stop.is_set():
            try:
                results.append(_status(client, _fqdn("ratings"), "/ratings/1"))
            except Exception:
                results.append(-1)
            time.sleep(0.05)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    seen: set[str] = set()
    handshakes: list[int] = []
    deadline = time.monotonic() + 95  # two half-lives of a 60 s certificate, plus slack
    try:
        while time.monotonic() < deadline and len(seen) < 3:
            seen |= _served_serials(ratings)
            # A fresh mTLS handshake each round: new connections must get a valid (the new) certificate.
            handshakes.append(_mtls_get(ratings.ip, client_cert)[0])
            time.sleep(1)
        time.sleep(1)
    finally:
        stop.set()
        thread.join(10)
    print(f"rotation: {len(results)} requests, {len(handshakes)} fresh mTLS handshakes, {len(seen)} certificates")
    assert len(seen) >= 3, f"expected the initial certificate and two renewals, saw {seen}"
    assert results and all(s == 200 for s in results), f"{len(results)} requests, failures: " \
        f"{[s for s in results if s != 200][:10]}"
    assert all(s == 200 for s in handshakes)
    _, metrics = mesh_runner.http("/metrics")
    assert "meshpilot_ca_certs_rotated_total" in metrics.decode()


def test_proxy_config_secret_summarises_the_served_certificates(mesh_runner: MeshRunner,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from pilot.cli import main

    pod = mesh_runner.mesh.pod("productpage")
    server = f"127.0.0.1:{mesh_runner.http_port}"
    assert main(["proxy-config", "secret", f"{pod.name}.{pod.namespace}", "--server", server]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:] if line.strip()}
    assert rows["default"][1:5] == ["Cert", "Chain", "ACTIVE", "true"], rows
    assert rows["ROOTCA"][1:4] == ["CA", "ACTIVE", "true"], rows
    assert main(["proxy-config", "secret", f"{pod.name}.{pod.namespace}", "--server", server, "-o", "json"]) == 0
    secrets = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert secrets["default"]["tlsCertificate"]["privateKey"] == {"inlineString": "[redacted]"}
