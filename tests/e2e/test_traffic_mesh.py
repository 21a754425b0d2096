"""Issue 3 part B through real Envoy: TCP weighted routes, ServiceEntries to servers outside the mesh,
Sidecar egress scoping, an ingress gateway routing by Host and terminating TLS with a Secret's
certificate, and every Bookinfo networking sample ACKed by sidecars and the gateway."""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import shutil
import socket
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pilot.testing.mesh import BOOKINFO, LoopbackMesh, PodSpec
from pilot.testing.processes import free_port, http_get, wait_until
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures/istio/samples/bookinfo/networking"
TCP_PORT = 9000


# ---- certificates -------------------------------------------------------------------------------
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server_cert(hosts: list[str]) -> tuple[bytes, bytes, bytes]:
    """(CA cert PEM, server cert PEM, server key PEM) with the hosts as DNS SANs."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("test-ca")).issuer_name(_name("test-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return (ca.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def tls_secret(name: str, namespace: str, cert: bytes, key: bytes) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


# ---- the mesh -----------------------------------------------------------------------------------
class TrafficMesh:
    def __init__(self, runner: MeshRunner, gateway: PodSpec, ca_pem: bytes, addrs: dict[str, str]) -> None:
        self.runner, self.gateway, self.ca_pem, self.addrs = runner, gateway, ca_pem, addrs

    @property
    def mesh(self) -> LoopbackMesh:
        return self.runner.mesh


def _addr(block: tuple[int, int, int], index: int) -> str:
    return f"{block[0]}.{block[1]}.{block[2]}.{index}"


def traffic_documents(mesh: LoopbackMesh, addrs: dict[str, str], ports: dict[str, int],
                      cert: bytes, key: bytes) -> list[dict[str, Any]]:
    docs = mesh.documents()
    pp = mesh.pod("productpage")
    for d in docs:  # productpage also gets a TCP egress listener for the echo service
        if d["kind"] == "Sidecar" and d["metadata"]["name"] == pp.name:
            d["spec"]["egress"].append({"port": {"number": TCP_PORT, "protocol": "TCP", "name": "tcp"},
                                        "bind": pp.bind, "captureMode": "NONE", "hosts": ["./*"]})
    extra = f"""
apiVersion: v1
kind: Service
metadata: {{name: tcp-echo, namespace: default}}
spec:
  selector: {{app: tcp-echo}}
  ports: [{{name: tcp, port: {TCP_PORT}, targetPort: {TCP_PORT}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: tcp-echo-v1-0, namespace: default, labels: {{app: tcp-echo, version: v1}}}}
spec: {{containers: [{{name: app, image: none}}]}}
status: {{podIP: {addrs['echo-v1']}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: tcp-echo-v2-0, namespace: default, labels: {{app: tcp-echo, version: v2}}}}
spec: {{containers: [{{name: app, image: none}}]}}
status: {{podIP: {addrs['echo-v2']}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: tcp-echo}}
spec:
  host: tcp-echo
  subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: tcp-echo}}
spec:
  hosts: [tcp-echo]
  tcp:
  - match: [{{port: {TCP_PORT}}}]
    route:
    - destination: {{host: tcp-echo, subset: v1}}
      weight: 80
    - destination: {{host: tcp-echo, subset: v2}}
      weight: 20
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews-alias}}
spec:
  hosts: [reviews-alias.example.org]
  http: [{{route: [{{destination: {{host: reviews}}}}]}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: external-static}}
spec:
  hosts: [external.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{{number: 9080, name: http, protocol: HTTP}}]
  endpoints: [{{address: {addrs['static']}, ports: {{http: {ports['static']}}}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: external-dns}}
spec:
  hosts: [dns.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{{number: 9080, name: http, protocol: HTTP}}]
  endpoints: [{{address: {addrs['dns']}, ports: {{http: {ports['dns']}}}}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: web-gateway, namespace: default}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: [reviews.example.com, ratings.example.com, app.example.com]
  - port: {{number: 80, name: http-redirect, protocol: HTTP}}
    hosts: [secure.example.com]
    tls: {{httpsRedirect: true}}
  - port: {{number: 443, name: https, protocol: HTTPS}}
    hosts: ["*.example.com"]
    tls: {{mode: SIMPLE, credentialName: web-cert}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: gw-reviews}}
spec:
  hosts: [reviews.example.com, secure.example.com]
  gateways: [web-gateway]
  http:
  - route: [{{destination: {{host: reviews, port: {{number: 9080}}}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: gw-ratings}}
spec:
  hosts: [ratings.example.com]
  gateways: [default/web-gateway]
  http:
  - route: [{{destination: {{host: ratings.default.svc.cluster.local}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: app-root}}
spec:
  hosts: [app.example.com]
  gateways: [web-gateway]
  http:
  - match: [{{uri: {{prefix: /team}}}}]
    delegate: {{name: team-routes, namespace: default}}
  - route: [{{destination: {{host: ratings}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: team-routes}}
spec:
  http:
  - match: [{{uri: {{prefix: /team/reviews}}}}, {{uri: {{prefix: /elsewhere}}}}]
    route: [{{destination: {{host: reviews}}}}]
  - route: [{{destination: {{host: productpage}}}}]
"""
    return docs + list(yaml.safe_load_all(extra)) + [tls_secret("web-cert", "istio-system", cert, key)]


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrafficMesh]:
    mesh = LoopbackMesh.build([("productpage", "v1"), ("reviews", "v1"), ("ratings", "v1"), ("details", "v1")])
    # details imports only reviews: it must get no cluster for ratings or productpage.
    i = next(n for n, p in enumerate(mesh.pods) if p.service == "details")
    mesh.pods[i] = replace(mesh.pods[i], egress_hosts=("./reviews.default.svc.cluster.local",))
    gateway = mesh.add_gateway(service_ports=((80, 8080), (443, 8443)))
    block = mesh.pods[0].block
    addrs = {"echo-v1": _addr(block, 50), "echo-v2": _addr(block, 51), "static": _addr(block, 60),
             "dns": _addr(block, 61)}
    ports = {"static": free_port(addrs["static"]), "dns": free_port(addrs["dns"])}
    ca_pem, cert, key = make_ca_and_server_cert(["*.example.com", "reviews.example.com"])
    cfg = tmp_path_factory.mktemp("traffic") / "config"
    cfg.mkdir()
    (cfg / "mesh.yaml").write_text(yaml.safe_dump_all(traffic_documents(mesh, addrs, ports, cert, key)))
    runner = MeshRunner(cfg, mesh)
    with runner.running():
        runner.start_extra_apps([f"tcp:tcp-echo:v1@{addrs['echo-v1']}:{TCP_PORT}",
                                 f"tcp:tcp-echo:v2@{addrs['echo-v2']}:{TCP_PORT}",
                                 f"external:v1@{addrs['static']}:{ports['static']}",
                                 f"dns-external:v1@{addrs['dns']}:{ports['dns']}"])
        yield TrafficMesh(runner, gateway, ca_pem, addrs)


def config_dump(runner: MeshRunner, pod: PodSpec) -> dict[str, dict[str, Any]]:
    status, body = runner.http(f"/debug/config_dump?proxy={pod.node_id}")
    assert status == 200, body
    return {t.rsplit(".", 1)[-1]: v for t, v in json.loads(body).items()}


def tcp_versions(address: str, port: int, n: int) -> Counter[str]:
    """Open n connections (tcp_proxy picks a weighted cluster per connection) and ask each who it is."""
    seen: Counter[str] = Counter()
    for i in range(n):
        with socket.create_connection((address, port), timeout=5) as s:
            s.sendall(f"hello {i}\n".encode())
            line = s.makefile("rb").readline()
            reply = json.loads(line)
            assert reply["echo"] == f"hello {i}", reply
            seen[reply["version"]] += 1
    return seen


def test_tcp_route_splits_connections_by_weight(traffic: TrafficMesh) -> None:
    pp = traffic.mesh.pod("productpage")
    # 80/20 over 600 connections: sd is 1.6 points, so +-7 points is ~4 sd; 50/50 or 100/0 fail.
    seen = tcp_versions(pp.bind, TCP_PORT, 600)
    assert seen["v1"] + seen["v2"] == 600, seen
    assert abs(seen["v1"] / 6 - 80) <= 7, seen
    listener = config_dump(traffic.runner, pp)["Listener"][f"{pp.bind}_{TCP_PORT}"]
    tcp = listener["filterChains"][0]["filters"][0]
    assert tcp["name"] == "envoy.filters.network.tcp_proxy"
    assert {c["name"] for c in tcp["typedConfig"]["weightedClusters"]["clusters"]} == {
        f"outbound|{TCP_PORT}|v1|tcp-echo.default.svc.cluster.local",
        f"outbound|{TCP_PORT}|v2|tcp-echo.default.svc.cluster.local"}


def test_service_entries_reach_servers_outside_the_mesh(traffic: TrafficMesh) -> None:
    client = MeshClient(traffic.mesh.pod("productpage"))
    for host, service in (("external.example.com", "external"), ("dns.example.com", "dns-external")):
        status, _h, body = client.request(host, "/hello")
        assert status == 200, (host, status, body)
        reply = json.loads(body)
        assert (reply["service"], reply["path"]) == (service, "/hello")
    clusters = config_dump(traffic.runner, traffic.mesh.pod("productpage"))["Cluster"]
    assert clusters["outbound|9080||external.example.com"].get("type", "EDS") == "EDS"
    assert clusters["outbound|9080||dns.example.com"]["type"] == "STRICT_DNS"
    client.close()


def test_sidecar_scoped_proxy_has_no_cluster_for_unimported_service(traffic: TrafficMesh) -> None:
    details = traffic.mesh.pod("details")
    clusters = set(config_dump(traffic.runner, details)["Cluster"])
    assert "outbound|9080||reviews.default.svc.cluster.local" in clusters
    assert not [c for c in clusters if "ratings" in c or "productpage" in c or "example.com" in c], clusters
    _, admin = http_get(f"http://{details.admin}:15000/clusters")
    assert b"reviews.default.svc.cluster.local" in admin
    assert b"ratings.default.svc.cluster.local" not in admin
    client = MeshClient(details)
    status, _h, body = client.request("reviews")
    assert status == 200 and json.loads(body)["service"] == "reviews"
    assert client.request("ratings")[0] == 502  # not imported: the block_all virtual host answers
    assert client.request("reviews-alias.example.org")[0] == 502  # nor is the VirtualService's host
    # The unscoped productpage proxy sees ratings, and the alias a VirtualService gives reviews.
    pp = MeshClient(traffic.mesh.pod("productpage"))
    assert pp.request("ratings")[0] == 200
    status, _h, body = pp.request("reviews-alias.example.org")
    assert status == 200 and json.loads(body)["service"] == "reviews"
    client.close()


def _gateway_get(address: str, port: int, host: str, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", path, headers={"host": host})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_gateway_routes_by_host_and_redirects_to_https(traffic: TrafficMesh) -> None:
    gw = traffic.gateway
    # Server port 80 maps to the gateway Service's targetPort 8080, as istiod does.
    for host, service in (("reviews.example.com", "reviews"), ("ratings.example.com", "ratings")):
        status, _h, body = _gateway_get(gw.ip, 8080, host, "/from-gateway")
        assert status == 200, (host, status, body)
        assert (json.loads(body)["service"], json.loads(body)["path"]) == (service, "/from-gateway")
    assert _gateway_get(gw.ip, 8080, "nobody.example.com")[0] == 404
    status, headers, _ = _gateway_get(gw.ip, 8080, "secure.example.com", "/x")
    assert status == 301 and headers["location"] == "https://secure.example.com/x", (status, headers)
    lis = config_dump(traffic.runner, gw)["Listener"]
    assert set(lis) == {"0.0.0.0_8080", "0.0.0.0_8443"}


def test_gateway_delegate_routes_sit_under_the_root_match(traffic: TrafficMesh) -> None:
    gw = traffic.gateway
    expected = {"/team/reviews/1": "reviews",  # the delegate's own match, inside the root's /team
                "/team/other": "productpage",  # the delegate's catch-all, narrowed to /team
                "/elsewhere": "ratings",  # the delegate's match outside /team never applies
                "/": "ratings"}
    for path, service in expected.items():
        status, _h, body = _gateway_get(gw.ip, 8080, "app.example.com", path)
        assert status == 200, (path, status, body)
        assert json.loads(body)["service"] == service, path


def test_gateway_terminates_tls_with_the_secret_certificate(traffic: TrafficMesh) -> None:
    gw = traffic.gateway
    ctx = ssl.create_default_context(cadata=traffic.ca_pem.decode())
    for host, service in (("reviews.example.com", "reviews"), ("ratings.example.com", "ratings")):
        # Connect to the gateway's IP but send the host name as SNI, as a client behind DNS would.
        conn = http.client.HTTPConnection(gw.ip, 8443, timeout=5)
        sock = socket.create_connection((gw.ip, 8443), timeout=5)
        conn.sock = ctx.wrap_socket(sock, server_hostname=host)
        cert = conn.sock.getpeercert()
        assert cert is not None and ("DNS", "*.example.com") in cert["subjectAltName"]
        conn.request("GET", "/tls", headers={"host": host})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 200, (host, resp.status, body)
        assert json.loads(body)["service"] == service
    # A client that does not trust the test CA refuses the gateway's certificate.
    with pytest.raises(ssl.SSLCertVerificationError), socket.create_connection((gw.ip, 8443), timeout=5) as sock:
        ssl.create_default_context().wrap_socket(sock, server_hostname="reviews.example.com")
    secrets = config_dump(traffic.runner, gw)["Secret"]
    assert set(secrets) == {"kubernetes://web-cert"}
    assert secrets["kubernetes://web-cert"]["tlsCertificate"]["privateKey"] == {"inlineString": "[redacted]"}


def test_every_proxy_synced_without_rejections(traffic: TrafficMesh) -> None:
    runner = traffic.runner
    runner.wait_synced(5)
    for pod in runner.proxies:
        assert runner.envoy_stat(pod, "update_rejected") == 0, f"{pod.name} rejected config"


# ---- Bookinfo networking samples ----------------------------------------------------------------
# Samples that define the same resources replace each other, so they load one batch at a time on top of
# the Bookinfo mesh, a gateway (with Service ports 80->8080, 443->8443) and destination-rule-all.yaml.
SAMPLE_BATCHES = [
    ["bookinfo-gateway.yaml", "certmanager-gateway.yaml", "egress-rule-google-apis.yaml",
     "virtual-service-all-v1.yaml"],
    ["virtual-service-details-v2.yaml", "fault-injection-details-v1.yaml"],
    ["virtual-service-ratings-db.yaml"], ["virtual-service-ratings-mysql.yaml"],
    ["virtual-service-ratings-mysql-vm.yaml"], ["virtual-service-ratings-test-abort.yaml"],
    ["virtual-service-ratings-test-delay.yaml"], ["virtual-service-reviews-50-v3.yaml"],
    ["virtual-service-reviews-80-20.yaml"], ["virtual-service-reviews-90-10.yaml"],
    ["virtual-service-reviews-jason-v2-v3.yaml"], ["virtual-service-reviews-test-v2.yaml"],
    ["virtual-service-reviews-v2-v3.yaml"], ["virtual-service-reviews-v3.yaml"],
    ["destination-rule-reviews.yaml"], ["destination-rule-all-mtls.yaml"],
]


def test_sample_batches_cover_every_bookinfo_networking_sample() -> None:
    listed = {f for batch in SAMPLE_BATCHES for f in batch} | {"destination-rule-all.yaml"}
    assert listed == {p.name for p in SAMPLES.glob("*.yaml")}


@pytest.fixture(scope="module", params=[False, True], ids=["sotw", "delta"])
def bookinfo_gateway(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
                     ) -> Iterator[MeshRunner]:
    mesh = LoopbackMesh.build(BOOKINFO)
    mesh.add_gateway(service_ports=((80, 8080), (443, 8443)))
    cfg = tmp_path_factory.mktemp("samples") / "config"
    (cfg / "samples").mkdir(parents=True)
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    runner = MeshRunner(cfg, mesh, delta=request.param)
    with runner.running():
        yield runner


def _resource_names(path: Path) -> set[tuple[str, str]]:
    return {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(path.read_text()) if d}


def test_bookinfo_samples_are_acked_by_sidecars_and_gateway(bookinfo_gateway: MeshRunner) -> None:
    runner = bookinfo_gateway
    samples_dir = runner.config_dir / "samples"
    for batch in SAMPLE_BATCHES:
        for old in samples_dir.iterdir():
            old.unlink()
        wanted: set[tuple[str, str]] = set()
        for name in batch:
            shutil.copy(SAMPLES / name, samples_dir / name)
            wanted |= _resource_names(SAMPLES / name)
        if "destination-rule" not in batch[0]:
            shutil.copy(REPO / "policies/bookinfo/destination-rule-all.yaml", samples_dir / "dr-all.yaml")

        def loaded(wanted: set[tuple[str, str]] = wanted, batch: list[str] = batch) -> bool:
            body = json.loads(runner.http("/debug/configz")[1])
            have = {(r["kind"], r["name"]) for r in body["resources"]
                    if any(str(r["origin"]).rsplit("/", 1)[-1].startswith(b) for b in batch)}
            return wanted <= have

        wait_until(loaded, 10, what=f"batch {batch} loaded")
        time.sleep(0.3)  # let the debounced push go out before asking for SYNCED
        try:
            runner.wait_synced(10)
        except TimeoutError:
            print(batch, runner.report())
            raise
        for proxy in runner.proxies:
            assert runner.envoy_stat(proxy, "update_rejected") == 0, (batch, proxy.name)
        if "bookinfo-gateway.yaml" in batch:  # the sample gateway serves /productpage on 8080
            gw = runner.mesh.gateways[0]
            wait_until(lambda gw=gw: http_get(f"http://{gw.ip}:8080/productpage")[0] == 200, 5,
                       what="bookinfo-gateway routes /productpage")
