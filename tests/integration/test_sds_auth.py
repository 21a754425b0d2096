"""SDS over ADS with proxy credentials, against the real control plane in-process and a raw gRPC client.

A proxy gets `default` (its own SPIFFE certificate) and `ROOTCA`; a stream with no, forged or foreign
credential is refused; names other than its own are never served; refusals and denials are counted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret
from envoy.service.discovery.v3 import discovery_pb2

from pilot.ca.tokens import TokenIssuer, bearer_metadata
from pilot.cli import main as cli_main
from pilot.model.proxy import make_node_id
from pilot.security.credentials import issue_proxy_token
from pilot.security.wiring import SecurityOptions
from pilot.server_main import ControlPlane, ServeOptions
from pilot.translate.secrets import SECRET_TYPE_URL

ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
POD_A = ("a-0", "10.1.0.1", "sa-a")
POD_B = ("b-0", "10.1.0.2", "sa-b")
TD = "cluster.local"


def _pods_yaml() -> str:
    docs = []
    for name, ip, sa in (POD_A, POD_B):
        docs.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default, labels: {{app: {name}}}}}
spec: {{serviceAccountName: {sa}, containers: [{{name: app, image: none}}]}}
status: {{podIP: {ip}}}
""")
    return "---\n".join(docs)


def _node(pod: tuple[str, str, str]) -> str:
    return make_node_id("sidecar", pod[1], pod[0], "default")


async def _start_plane(tmp_path: Path, cert_ttl_s: int, require_credentials: bool = True) -> ControlPlane:
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "pods.yaml").write_text(_pods_yaml())
    opts = ServeOptions(config_dirs=[str(cfg)], xds_address="127.0.0.1:0", http_address="127.0.0.1:0",
                        security=SecurityOptions(ca_dir=tmp_path / "ca", cert_ttl_s=cert_ttl_s,
                                                 require_credentials=require_credentials))
    cp = ControlPlane(opts)
    await cp.start()
    return cp


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    cp = await _start_plane(tmp_path, 3600)
    try:
        yield cp
    finally:
        await cp.stop()


def _token(cp: ControlPlane, pod: tuple[str, str, str]) -> str:
    assert cp.opts.security is not None
    return issue_proxy_token(cp.opts.security.ca_dir, _node(pod), pod[2])


async def _ask_secrets(cp: ControlPlane, node_id: str, names: list[str], metadata: list[tuple[str, str]],
                       ) -> dict[str, Secret]:
    """One SotW request for secrets; the first response's secrets by name (raises grpc.aio.AioRpcError)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{cp.xds_port}") as channel:
        call = channel.stream_stream(ADS_METHOD, request_serializer=discovery_pb2.DiscoveryRequest.SerializeToString,
                                     response_deserializer=discovery_pb2.DiscoveryResponse.FromString)
        request = discovery_pb2.DiscoveryRequest(type_url=SECRET_TYPE_URL, resource_names=names)
        request.node.id = node_id
        stream = call(metadata=metadata)
        await stream.write(request)
        response = await stream.read()
        stream.cancel()
    out = {}
    for any_msg in response.resources:
        secret = Secret()
        any_msg.Unpack(secret)
        out[secret.name] = secret
    return out


def _metric(cp: ControlPlane, name: str, reason: str = "") -> int:
    assert cp.security is not None
    return cp.security.counters.get(name, reason)


async def test_proxy_gets_its_own_certificate_and_the_root(plane: ControlPlane) -> None:
    secrets = await _ask_secrets(plane, _node(POD_A), ["default", "ROOTCA"],
                                 [bearer_metadata(_token(plane, POD_A))])
    assert set(secrets) == {"default", "ROOTCA"}
    leaf = x509.load_pem_x509_certificate(secrets["default"].tls_certificate.certificate_chain.inline_bytes)
    uris = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == [f"spiffe://{TD}/ns/default/sa/sa-a"]
    root = x509.load_pem_x509_certificate(secrets["ROOTCA"].validation_context.trusted_ca.inline_bytes)
    leaf.verify_directly_issued_by(root)
    assert b"PRIVATE KEY" in secrets["default"].tls_certificate.private_key.inline_bytes


async def test_names_of_other_identities_are_not_served_and_are_counted(plane: ControlPlane) -> None:
    foreign = [f"spiffe://{TD}/ns/default/sa/sa-b", "kubernetes://b-0-cert"]
    secrets = await _ask_secrets(plane, _node(POD_A), ["default", *foreign],
                                 [bearer_metadata(_token(plane, POD_A))])
    assert set(secrets) == {"default"}
    leaf = x509.load_pem_x509_certificate(secrets["default"].tls_certificate.certificate_chain.inline_bytes)
    assert "sa-a" in str(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    assert _metric(plane, "meshpilot_sds_denied_total", "not_own_identity") == 2
    _, body = await _http_metrics(plane)
    assert 'meshpilot_sds_denied_total{reason="not_own_identity"} 2' in body


async def test_credential_of_a_used_with_node_id_of_b_is_refused(plane: ControlPlane) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _ask_secrets(plane, _node(POD_B), ["default"], [bearer_metadata(_token(plane, POD_A))])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _metric(plane, "meshpilot_xds_credential_refused_total", "pod_mismatch") == 1
    assert _node(POD_B) not in plane.cache.node_ids()


async def test_token_with_a_service_account_the_registry_does_not_give_the_pod_is_refused(
        plane: ControlPlane) -> None:
    assert plane.opts.security is not None
    token = issue_proxy_token(plane.opts.security.ca_dir, _node(POD_A), "sa-b")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _ask_secrets(plane, _node(POD_A), ["default"], [bearer_metadata(token)])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _metric(plane, "meshpilot_xds_credential_refused_total", "service_account_mismatch") == 1


@pytest.mark.parametrize(("metadata", "reason"), [
    ([], "missing_credential"),
    ([("authorization", "Bearer not-a-token")], "malformed_credential"),
    ([bearer_metadata(TokenIssuer(b"k" * 32).issue("default", "sa-a", "a-0", 60))], "bad_signature"),
])
async def test_missing_or_forged_credentials_are_refused(plane: ControlPlane, metadata: list[tuple[str, str]],
                                                         reason: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _ask_secrets(plane, _node(POD_A), ["default"], metadata)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _metric(plane, "meshpilot_xds_credential_refused_total", reason) == 1
    _, body = await _http_metrics(plane)
    assert f'meshpilot_xds_credential_refused_total{{reason="{reason}"}} 1' in body


async def test_rotation_timer_pushes_a_new_certificate_on_the_open_stream(tmp_path: Path) -> None:
    plane = await _start_plane(tmp_path, cert_ttl_s=2)  # renewed after ~1 s
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{plane.xds_port}") as channel:
            call = channel.stream_stream(
                ADS_METHOD, request_serializer=discovery_pb2.DiscoveryRequest.SerializeToString,
                response_deserializer=discovery_pb2.DiscoveryResponse.FromString)
            stream = call(metadata=[bearer_metadata(_token(plane, POD_A))])
            request = discovery_pb2.DiscoveryRequest(type_url=SECRET_TYPE_URL, resource_names=["default"])
            request.node.id = _node(POD_A)
            await stream.write(request)
            first = await stream.read()
            await stream.write(discovery_pb2.DiscoveryRequest(
                type_url=SECRET_TYPE_URL, resource_names=["default"], version_info=first.version_info,
                response_nonce=first.nonce))
            second = await asyncio.wait_for(stream.read(), 10)
            stream.cancel()
        assert second.version_info != first.version_info
        assert _serial(second) != _serial(first)
        assert _metric(plane, "meshpilot_ca_certs_rotated_total") >= 1
    finally:
        await plane.stop()


def _serial(response: discovery_pb2.DiscoveryResponse) -> int:
    secret = Secret()
    response.resources[0].Unpack(secret)
    return x509.load_pem_x509_certificate(secret.tls_certificate.certificate_chain.inline_bytes).serial_number


def test_pilot_bootstrap_puts_a_verifiable_credential_in_initial_metadata(tmp_path: Path) -> None:
    import yaml

    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "pods.yaml").write_text(_pods_yaml())
    out = tmp_path / "bootstrap.yaml"
    rc = cli_main(["bootstrap", "--node-id", _node(POD_A), "--ca-dir", str(tmp_path / "ca"), "--config", str(cfg),
                   "-o", str(out)])
    assert rc == 0
    doc = yaml.safe_load(out.read_text())
    metadata = doc["dynamic_resources"]["ads_config"]["grpc_services"][0]["initial_metadata"]
    assert metadata[0]["key"] == "authorization"
    token = metadata[0]["value"].removeprefix("Bearer ")
    claims = TokenIssuer.load_or_create(tmp_path / "ca").verify(token)
    assert (claims.ns, claims.sa, claims.pod) == ("default", "sa-a", "a-0")
    # A pod the config does not have gets no credential.
    rc = cli_main(["bootstrap", "--node-id", make_node_id("sidecar", "10.9.9.9", "ghost", "default"),
                   "--ca-dir", str(tmp_path / "ca"), "--config", str(cfg), "-o", str(tmp_path / "x.yaml")])
    assert rc == 2


async def _http_metrics(cp: ControlPlane) -> tuple[int, str]:
    from pilot.testing.processes import http_get

    status, body = await asyncio.to_thread(http_get, f"http://127.0.0.1:{cp.http_port}/metrics")
    return status, body.decode()


async def test_config_dump_never_shows_a_private_key(plane: ControlPlane) -> None:
    import asyncio

    from pilot.testing.processes import http_get

    await _ask_secrets(plane, _node(POD_A), ["default", "ROOTCA"], [bearer_metadata(_token(plane, POD_A))])
    status, body = await asyncio.to_thread(
        http_get, f"http://127.0.0.1:{plane.http_port}/debug/config_dump?proxy={_node(POD_A)}")
    assert status == 200
    dump = json.loads(body)
    secret = dump[SECRET_TYPE_URL]["default"]
    assert secret["tlsCertificate"]["privateKey"] == {"inlineString": "[redacted]"}
    assert "certificateChain" in secret["tlsCertificate"]
    assert b"PRIVATE KEY" not in body and b"LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t" not in body  # nor its base64


async def test_without_required_credentials_the_registry_service_account_is_used(tmp_path: Path) -> None:
    plane = await _start_plane(tmp_path, 3600, require_credentials=False)
    try:
        secrets = await _ask_secrets(plane, _node(POD_B), ["default"], [])
    finally:
        await plane.stop()
    leaf = x509.load_pem_x509_certificate(secrets["default"].tls_certificate.certificate_chain.inline_bytes)
    assert f"spiffe://{TD}/ns/default/sa/sa-b" in str(leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value)


async def test_delta_requests_for_other_names_are_counted_and_get_only_own_secrets(plane: ControlPlane) -> None:
    method = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{plane.xds_port}") as channel:
        call = channel.stream_stream(method,
                                     request_serializer=discovery_pb2.DeltaDiscoveryRequest.SerializeToString,
                                     response_deserializer=discovery_pb2.DeltaDiscoveryResponse.FromString)
        stream = call(metadata=[bearer_metadata(_token(plane, POD_A))])
        request = discovery_pb2.DeltaDiscoveryRequest(
            type_url=SECRET_TYPE_URL, resource_names_subscribe=["default", "ROOTCA", "b-0-default"])
        request.node.id = _node(POD_A)
        await stream.write(request)
        response = await stream.read()
        stream.cancel()
    assert sorted(r.name for r in response.resources) == ["ROOTCA", "default"]
    assert _metric(plane, "meshpilot_sds_denied_total", "not_own_identity") == 1
