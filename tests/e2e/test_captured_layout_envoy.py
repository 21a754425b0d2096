"""Real Envoy accepts Istio's captured sidecar layout for Bookinfo's own YAML (no Sidecar resources).

Each Bookinfo pod's Envoy connects with node metadata INTERCEPTION_MODE=REDIRECT and must ACK every
type (no NACK in /debug/syncz, no rejected update in its stats) with virtualOutbound, virtualInbound and
the per-port listeners active. No iptables here: the pods are loopback IPs and the mesh config moves
the capture ports (proxyListenPort / proxyInboundListenPort) to free ones, so Envoys run one at a time
(they all bind the same two ports). Traffic through iptables capture is the netns lab's test.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pilot.testing.captured_mesh import CapturedMesh, CapturedPod
from pilot.testing.envoy import envoy_binary
from pilot.testing.mesh import LoopbackMesh, random_block
from pilot.testing.processes import free_port, http_get, wait_until
from pilot.testing.runner import MeshRunner

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BOOKINFO = REPO / "tests/fixtures/istio/samples/bookinfo"
TYPES = ("clusters", "listeners", "routes", "endpoints")

STRICT_AND_RBAC = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-get-only, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET]}}]
"""


def _mesh() -> CapturedMesh:
    a, b, c = random_block()
    return CapturedMesh.from_yaml((BOOKINFO / "platform/kube/bookinfo.yaml").read_text(),
                                  iter(f"{a}.{b}.{c}.{i}" for i in range(10, 250)),
                                  iter(f"10.96.{b}.{i}" for i in range(10, 250)),
                                  proxy_listen_port=free_port("0.0.0.0"),
                                  proxy_inbound_listen_port=free_port("0.0.0.0"))


@pytest.fixture(params=["plaintext", "mtls"])
def control_plane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[MeshRunner, CapturedMesh]]:
    mesh = _mesh()
    extra = [BOOKINFO / "networking/destination-rule-all.yaml",
             BOOKINFO / "networking/virtual-service-reviews-80-20.yaml"]
    cfg = mesh.write_config(tmp_path / "config", extra)
    ca = None
    if request.param == "mtls":
        (cfg / "security.yaml").write_text(STRICT_AND_RBAC)
        ca = tmp_path / "ca"
    serve_args = ["--mesh-config", str(mesh.write_mesh_config(tmp_path / "meshconfig.yaml"))]
    runner = MeshRunner(cfg, LoopbackMesh(), extra_serve_args=serve_args, ca_dir=ca)
    try:
        runner.start_control_plane()
        yield runner, mesh
    except BaseException:
        print(runner.report())
        raise
    finally:
        runner.stop()


def _start_envoy(runner: MeshRunner, mesh: CapturedMesh, pod: CapturedPod) -> str:
    admin = f"127.0.0.1:{free_port()}"
    token = ""
    if runner.ca_dir is not None:
        from pilot.security.credentials import issue_proxy_token

        token = issue_proxy_token(runner.ca_dir, pod.node_id, pod.service_account)
    doc = mesh.bootstrap(pod, f"127.0.0.1:{runner.xds_port}", admin, stats_port=0, token=token)
    path = runner.group.workdir / f"envoy-{pod.name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    runner.envoys[pod.name] = runner.group.start(f"envoy-{pod.name}", [
        envoy_binary(), "-c", str(path), "--concurrency", "1", "--use-dynamic-base-id",
        "--log-level", "warn", "--drain-time-s", "1"])
    return admin


def _synced(runner: MeshRunner, pod: CapturedPod) -> bool:
    entry = next((s for s in runner.syncz() if s["proxy"] == pod.node_id), None)
    if entry is None:
        return False
    statuses = {t.rsplit(".", 1)[-1]: v["status"] for t, v in entry["types"].items()}
    assert "NACKED" not in statuses.values(), entry
    return all(s in ("SYNCED", "NOT_SENT") for s in statuses.values()) and len(statuses) >= 4


def _active_listeners(admin: str) -> dict[str, dict]:
    _, body = http_get(f"http://{admin}/config_dump?resource=dynamic_listeners")
    out = {}
    for item in json.loads(body)["configs"]:
        if "active_state" in item:
            out[item["name"]] = item["active_state"]["listener"]
    return out


def _rejected(admin: str) -> dict[str, int]:
    _, body = http_get(f"http://{admin}/stats?filter=update_rejected")
    pairs = (line.split(": ") for line in body.decode().splitlines() if ": " in line)
    return {k: int(v) for k, v in pairs if v.isdigit() and int(v)}


def test_every_bookinfo_pod_acks_the_captured_layout(control_plane: tuple[MeshRunner, CapturedMesh]) -> None:
    runner, mesh = control_plane
    assert len(mesh.pods) == 6
    for pod in mesh.pods:
        admin = _start_envoy(runner, mesh, pod)
        wait_until(lambda p=pod: _synced(runner, p), 20, what=f"{pod.name} SYNCED")
        wait_until(lambda a=admin: {"virtualOutbound", "virtualInbound", "0.0.0.0_9080"}
                   <= set(_active_listeners(a)), 10, what=f"{pod.name} listeners active")
        assert _rejected(admin) == {}, pod.name
        listeners = _active_listeners(admin)
        assert listeners["virtualOutbound"]["use_original_dst"] is True
        assert listeners["0.0.0.0_9080"]["bind_to_port"] is False
        chains = [c.get("name") for c in listeners["virtualInbound"]["filter_chains"]]
        assert chains[:2] == ["virtualInbound-blackhole", "virtualInbound"] and "0.0.0.0_9080" in chains
        port_chain = next(c for c in listeners["virtualInbound"]["filter_chains"] if c.get("name") == "0.0.0.0_9080")
        assert ("transport_socket" in port_chain) == (runner.ca_dir is not None)  # STRICT: mTLS only
        rbac = "envoy.filters.http.rbac" in json.dumps(port_chain)
        assert rbac == (runner.ca_dir is not None and pod.name.startswith("reviews"))
        if pod.name.startswith("productpage"):
            _dialling_the_capture_port_goes_to_the_blackhole(admin, mesh.proxy_listen_port)
        runner.envoys.pop(pod.name).stop()


def _dialling_the_capture_port_goes_to_the_blackhole(admin: str, port: int) -> None:
    """Dialled directly (no iptables), the original destination is :15001 itself: the blackhole chain
    closes the connection instead of looping it back into the listener."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert s.recv(1024) == b""
        except ConnectionResetError:
            pass
    _, body = http_get(f"http://{admin}/stats?filter=^tcp.BlackHoleCluster.downstream_cx_total$")
    assert body.decode().strip() == "tcp.BlackHoleCluster.downstream_cx_total: 1"
