"""One real Envoy against the in-process xDS server: every type ACKed, traffic answered; a bad route
is NACKed, reported, not re-sent, and traffic keeps working on the last good config."""

from __future__ import annotations

import asyncio
import datetime
import functools
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from envoy.config.core.v3 import base_pb2 as core_pb2

from pilot.testing.envoy import EnvoyProcess, ads_bootstrap, free_port, http_get
from pilot.testing.xds_resources import (
    cluster,
    direct_response_route,
    endpoints,
    http_listener,
    resource_set,
    validation_secret,
)
from pilot.xds.cache import ResourceCache
from pilot.xds.server import XdsHooks, XdsServer

pytestmark = pytest.mark.e2e
HOST = "127.0.0.1"
NODE = "sidecar~127.0.0.1~e2e.default~default.svc.cluster.local"


@functools.cache
def self_signed_ca() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def resources(listener_port: int, route: object) -> dict:
    return resource_set(
        clusters={"upstream": cluster("upstream", tls_secret="ca")},
        endpoints_={"upstream": endpoints("upstream", (HOST, 9))},
        listeners={"http": http_listener("http", HOST, listener_port, "local_route")},
        routes={"local_route": route},
        secrets={"ca": validation_secret("ca", self_signed_ca())},
    )


@dataclass
class Mesh:
    server: XdsServer
    cache: ResourceCache
    envoy: EnvoyProcess
    listener_port: int

    def syncz(self) -> dict:
        return next((p["types"] for p in self.server.sync_status() if p["proxy"] == NODE), {})


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[Mesh]:
    cache = ResourceCache()
    listener_port = free_port(HOST)

    async def on_connect(node: core_pb2.Node, metadata: Mapping[str, str], peer: str) -> None:
        if cache.get(node.id) is None:
            cache.set_node_resources(
                node.id, resources(listener_port, direct_response_route("local_route", "hello"))
            )

    server = XdsServer(cache, XdsHooks(on_connect))
    xds_port = await server.start(f"{HOST}:0")
    envoy = EnvoyProcess(
        ads_bootstrap(NODE, xds_port, free_port(HOST), xds_host=HOST, admin_host=HOST), tmp_path
    )
    envoy.start()
    state = Mesh(server, cache, envoy, listener_port)
    try:
        yield state
    finally:
        # Shown by pytest only when the test failed: what the next person needs to see.
        print("syncz:", json.dumps(server.sync_status(), indent=1))
        print("envoy log tail:\n" + envoy.log_tail())
        envoy.stop()
        await server.stop(0)


async def eventually(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_envoy_acks_every_type_and_survives_a_nacked_route(mesh: Mesh) -> None:
    await mesh.envoy.wait_ready()

    async def all_synced() -> bool:
        return all(t["status"] == "SYNCED" for t in mesh.syncz().values()) and len(mesh.syncz()) == 5

    await eventually(all_synced)
    url = f"http://{HOST}:{mesh.listener_port}/"
    assert await http_get(url) == (200, "hello")
    assert set((await mesh.envoy.update_rejected()).values()) == {0}

    bad = direct_response_route("local_route", "never served", path_regex="(")
    mesh.cache.set_node_resources(NODE, resources(mesh.listener_port, bad))

    async def rds_error() -> bool:
        return mesh.syncz()["rds"]["status"] == "ERROR"

    await eventually(rds_error)
    rds = mesh.syncz()["rds"]
    assert rds["error"] and rds["acked"] != rds["sent"]
    pushes = mesh.server.metrics()['pushes_total{type="rds"}']
    rejected = await mesh.envoy.update_rejected()
    assert rejected["http.http.rds.local_route.update_rejected"] == 1
    assert sum(rejected.values()) == 1
    # Traffic keeps flowing on the last good route, and the rejected version is not sent again.
    for _ in range(5):
        assert await http_get(url) == (200, "hello")
    await asyncio.sleep(0.3)
    assert mesh.server.metrics()['pushes_total{type="rds"}'] == pushes
    assert (await mesh.envoy.update_rejected())["http.http.rds.local_route.update_rejected"] == 1
    assert mesh.server.metrics()['nacks_total{type="rds"}'] == 1

    # A fixed route is sent, ACKed and served.
    mesh.cache.set_node_resources(
        NODE, resources(mesh.listener_port, direct_response_route("local_route", "fixed"))
    )

    async def fixed() -> bool:
        return await http_get(url) == (200, "fixed")

    await eventually(fixed)
    await eventually(all_synced)
