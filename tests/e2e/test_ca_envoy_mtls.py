"""Real Envoy accepts the CA's SDS material: two Envoys with static bootstraps speak SPIFFE mTLS.

The server Envoy requires a client certificate chaining to ROOTCA whose URI SAN is productpage's identity;
the client Envoy originates mTLS with productpage's certificate and checks the server is reviews. The
secrets are the exact ``default``/``ROOTCA`` protos SDS will serve, given to Envoy as static secrets (an
``SdsSecretConfig`` without a config source resolves to those), and the TLS contexts come from the same
builders the xDS translation uses, with ``ads=False``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from google.protobuf import json_format

from pilot.ca.authority import CertificateAuthority, WorkloadCert
from pilot.testing.static_mtls import client_mtls_context, server_mtls_context
from pilot.translate.secrets import workload_secrets

pytestmark = pytest.mark.e2e

ENVOY = shutil.which("envoy", path=str(Path(sys.executable).parent)) or shutil.which("envoy")
REVIEWS = "spiffe://cluster.local/ns/default/sa/reviews"
PRODUCTPAGE = "spiffe://cluster.local/ns/default/sa/productpage"
RATINGS = "spiffe://cluster.local/ns/default/sa/ratings"
TLS_SOCKET = "envoy.transport_sockets.tls"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def typed(msg: Any) -> dict[str, Any]:
    out = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    out["@type"] = f"type.googleapis.com/{msg.DESCRIPTOR.full_name}"
    return out


def static_secrets(cert: WorkloadCert, root_pem: bytes) -> list[dict[str, Any]]:
    out = []
    for packed in workload_secrets(cert, root_pem).values():
        as_dict = json_format.MessageToDict(packed, preserving_proto_field_name=True)
        as_dict.pop("@type")
        out.append(as_dict)
    return out


def http_listener(name: str, host: str, port: int, routes: list[dict[str, Any]], tls: Any = None) -> dict:
    chain: dict[str, Any] = {
        "filters": [
            {
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                    ".HttpConnectionManager",
                    "stat_prefix": name,
                    "route_config": {"virtual_hosts": [{"name": name, "domains": ["*"], "routes": routes}]},
                    "http_filters": [
                        {
                            "name": "envoy.filters.http.router",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                            },
                        }
                    ],
                },
            }
        ]
    }
    if tls is not None:
        chain["transport_socket"] = {"name": TLS_SOCKET, "typed_config": typed(tls)}
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [chain],
    }


def tls_cluster(name: str, host: str, port: int, peer: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
                    ]
                }
            ],
        },
        "transport_socket": {
            "name": TLS_SOCKET,
            "typed_config": typed(client_mtls_context(peer_spiffe_ids=[peer], ads=False)),
        },
    }


def bootstrap(node: str, admin: tuple[str, int], secrets: list, listeners: list, clusters: list) -> dict:
    return {
        "node": {"id": node, "cluster": node},
        "admin": {"address": {"socket_address": {"address": admin[0], "port_value": admin[1]}}},
        "static_resources": {"secrets": secrets, "listeners": listeners, "clusters": clusters},
    }


class Envoy:
    def __init__(self, name: str, config: dict, admin: tuple[str, int], workdir: Path) -> None:
        self.name, self.admin = name, admin
        cfg = workdir / f"{name}.json"
        cfg.write_text(json.dumps(config))
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        assert ENVOY is not None
        self.proc = subprocess.Popen(
            [ENVOY, "-c", str(cfg), "--concurrency", "1", "--use-dynamic-base-id", "--log-level", "warn"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def admin_get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://{self.admin[0]}:{self.admin[1]}{path}", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.admin_get("/ready")[0] == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"{self.name} not ready after {timeout_s}s:\n{self.log_tail()}")

    def counter(self, suffix: str) -> int:
        """Sum of every stat ending in ``suffix`` (listener and cluster stat names embed addresses)."""
        _, body = self.admin_get("/stats?filter=" + urllib.parse.quote(re.escape(suffix) + "$"))
        return sum(
            int(line.rsplit(":", 1)[1]) for line in body.splitlines() if line.split(":")[0].endswith(suffix)
        )

    def log_tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


@pytest.fixture
def envoys() -> Iterator[list[Envoy]]:
    started: list[Envoy] = []
    yield started
    for envoy in started:
        envoy.stop()


def write_identity(tmp: Path, name: str, cert: WorkloadCert) -> tuple[str, str]:
    (tmp / f"{name}.crt").write_bytes(cert.cert_chain_pem)
    (tmp / f"{name}.key").write_bytes(cert.key_pem)
    return str(tmp / f"{name}.crt"), str(tmp / f"{name}.key")


def tls_get(
    host: str, port: int, root_pem: bytes, client: tuple[str, str] | None
) -> tuple[x509.Certificate, str]:
    """Handshake as ``client`` (or with no certificate), then GET /; returns the server's leaf and the
    response's x-peer-uri-san header. Raises OSError/SSLError when the server refuses."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # SPIFFE leaves carry no DNS name; the test checks the URI SAN itself
    ctx.load_verify_locations(cadata=root_pem.decode())
    if client:
        ctx.load_cert_chain(*client)
    with socket.create_connection((host, port), timeout=5) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        tls.sendall(b"GET / HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n")
        response = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 200
        return x509.load_der_x509_certificate(der), response.getheader("x-peer-uri-san", "")


@pytest.mark.skipif(ENVOY is None, reason="envoy binary not installed")
def test_envoys_speak_spiffe_mtls_with_ca_material(tmp_path: Path, envoys: list[Envoy]) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    reviews = ca.issue_workload("default", "reviews", ttl_s=600)
    productpage = ca.issue_workload("default", "productpage", ttl_s=600)
    ratings = ca.issue_workload("default", "ratings", ttl_s=600)

    net = f"127.77.{random.randint(1, 254)}"
    server_host, client_host = f"{net}.2", f"{net}.3"
    inbound = free_port(server_host)
    outbound = free_port(client_host)
    server_admin, client_admin = (server_host, free_port(server_host)), (client_host, free_port(client_host))

    peer_header = {"header": {"key": "x-peer-uri-san", "value": "%DOWNSTREAM_PEER_URI_SAN%"}}
    server_routes = [
        {
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": "reviews-ok"}},
            "response_headers_to_add": [peer_header],
        }
    ]
    server_tls = server_mtls_context(peer_spiffe_ids=[PRODUCTPAGE], ads=False)
    envoys.append(
        Envoy(
            "server",
            bootstrap(
                "reviews",
                server_admin,
                static_secrets(reviews, ca.root_pem),
                [http_listener("inbound", server_host, inbound, server_routes, server_tls)],
                [],
            ),
            server_admin,
            tmp_path,
        )
    )
    client_routes = [
        {"match": {"prefix": "/wrong-san"}, "route": {"cluster": "reviews_expecting_ratings"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "reviews"}},
    ]
    envoys.append(
        Envoy(
            "client",
            bootstrap(
                "productpage",
                client_admin,
                static_secrets(productpage, ca.root_pem),
                [http_listener("outbound", client_host, outbound, client_routes)],
                [
                    tls_cluster("reviews", server_host, inbound, REVIEWS),
                    tls_cluster("reviews_expecting_ratings", server_host, inbound, RATINGS),
                ],
            ),
            client_admin,
            tmp_path,
        )
    )
    server, client = envoys
    server.wait_ready()
    client.wait_ready()

    try:
        # 1. Sidecar to sidecar: mTLS both ways; the server saw productpage's SPIFFE id.
        conn = http.client.HTTPConnection(client_host, outbound, timeout=5)
        conn.request("GET", "/", headers={"Host": "reviews"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"reviews-ok")
        assert resp.getheader("x-peer-uri-san") == PRODUCTPAGE

        # 2. The client Envoy checks the server's identity: expecting ratings, it refuses reviews.
        conn.request("GET", "/wrong-san", headers={"Host": "reviews"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 503
        assert client.counter("ssl.fail_verify_san") >= 1
        conn.close()

        # 3. The presented server certificate is reviews' SPIFFE leaf, chained to our root.
        pp_files = write_identity(tmp_path, "productpage", productpage)
        leaf, peer = tls_get(server_host, inbound, ca.root_pem, pp_files)
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.UniformResourceIdentifier) == [REVIEWS]
        leaf.verify_directly_issued_by(ca.root_cert)
        assert peer == PRODUCTPAGE

        # 4. Plaintext HTTP to the mTLS listener gets no HTTP answer.
        with socket.create_connection((server_host, inbound), timeout=5) as plain:
            plain.sendall(b"GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")
            with contextlib.suppress(ConnectionResetError, TimeoutError):
                assert not plain.recv(4096).startswith(b"HTTP/")

        # 5. TLS without a client certificate, and with a valid certificate of the wrong identity: refused.
        with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
            tls_get(server_host, inbound, ca.root_pem, None)
        with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
            tls_get(server_host, inbound, ca.root_pem, write_identity(tmp_path, "ratings", ratings))
        assert server.counter("ssl.fail_verify_no_cert") >= 1
        assert server.counter("ssl.fail_verify_san") >= 1
        assert server.counter("ssl.handshake") >= 2
    except BaseException:
        print("---- server envoy log ----\n" + server.log_tail())
        print("---- client envoy log ----\n" + client.log_tail())
        raise


def write_file_sds(path: Path, cert: WorkloadCert, root_pem: bytes) -> None:
    """The ``default`` secret as Envoy's file-based SDS reads it, replaced atomically (Envoy reloads on the
    rename in the watched directory, as it would on an SDS push)."""
    secret = json_format.MessageToDict(
        workload_secrets(cert, root_pem)["default"], preserving_proto_field_name=True
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"resources": [secret]}))
    os.replace(tmp, path)


@pytest.mark.skipif(ENVOY is None, reason="envoy binary not installed")
def test_rotated_server_certificate_is_picked_up_without_failed_requests(
    tmp_path: Path, envoys: list[Envoy]
) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    productpage = ca.issue_workload("default", "productpage", ttl_s=600)
    first = ca.issue_workload("default", "reviews", ttl_s=600)
    sds_dir = tmp_path / "sds"
    sds_dir.mkdir()
    write_file_sds(sds_dir / "default.json", first, ca.root_pem)

    net = f"127.78.{random.randint(1, 254)}"
    server_host, client_host = f"{net}.2", f"{net}.3"
    inbound, outbound = free_port(server_host), free_port(client_host)
    server_admin, client_admin = (server_host, free_port(server_host)), (client_host, free_port(client_host))

    server_tls = server_mtls_context(peer_spiffe_ids=[PRODUCTPAGE], ads=False)
    cert_ref = server_tls.common_tls_context.tls_certificate_sds_secret_configs[0]
    cert_ref.sds_config.path_config_source.path = str(sds_dir / "default.json")
    cert_ref.sds_config.path_config_source.watched_directory.path = str(sds_dir)
    routes = [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]
    rootca_only = [s for s in static_secrets(first, ca.root_pem) if s["name"] == "ROOTCA"]
    server_cfg = bootstrap(
        "reviews",
        server_admin,
        rootca_only,
        [http_listener("inbound", server_host, inbound, routes, server_tls)],
        [],
    )
    upstream = tls_cluster("reviews", server_host, inbound, REVIEWS)
    # One request per upstream connection: every request after the rotation handshakes with the new cert.
    upstream["typed_extension_protocol_options"] = {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "common_http_protocol_options": {"max_requests_per_connection": 1},
            "explicit_http_config": {"http_protocol_options": {}},
        }
    }
    client_routes = [{"match": {"prefix": "/"}, "route": {"cluster": "reviews"}}]
    client_cfg = bootstrap(
        "productpage",
        client_admin,
        static_secrets(productpage, ca.root_pem),
        [http_listener("outbound", client_host, outbound, client_routes)],
        [upstream],
    )
    envoys.append(Envoy("server", server_cfg, server_admin, tmp_path))
    envoys.append(Envoy("client", client_cfg, client_admin, tmp_path))
    server, client = envoys
    server.wait_ready()
    client.wait_ready()
    pp_files = write_identity(tmp_path, "productpage", productpage)

    def served_serial() -> int:
        return tls_get(server_host, inbound, ca.root_pem, pp_files)[0].serial_number

    def request_statuses(n: int) -> list[int]:
        conn = http.client.HTTPConnection(client_host, outbound, timeout=5)
        statuses = []
        for _ in range(n):
            conn.request("GET", "/", headers={"Host": "reviews"})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        conn.close()
        return statuses

    try:
        assert served_serial() == x509.load_pem_x509_certificates(first.cert_chain_pem)[0].serial_number
        assert request_statuses(20) == [200] * 20
        second = ca.issue_workload("default", "reviews", ttl_s=600)
        write_file_sds(sds_dir / "default.json", second, ca.root_pem)
        new_serial = x509.load_pem_x509_certificates(second.cert_chain_pem)[0].serial_number
        statuses: list[int] = []
        deadline = time.monotonic() + 15
        while served_serial() != new_serial:
            assert time.monotonic() < deadline, "server Envoy never served the rotated certificate"
            statuses += request_statuses(5)  # traffic keeps flowing while Envoy swaps the secret
        statuses += request_statuses(20)
        assert statuses.count(200) == len(statuses) >= 20
        assert client.counter("upstream_cx_connect_fail") == 0
    except BaseException:
        print("---- server envoy log ----\n" + server.log_tail())
        print("---- client envoy log ----\n" + client.log_tail())
        raise
