"""Scale to zero and back from a real Knative Service (serving.knative.dev/v1, derived by pilot/knative):
a client sidecar calls hello.default.svc.cluster.local; the idle revision is handed to the activator and
stopped; the next request cold-starts it through the activator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from pilot.testing.knative_lab import FakeKubelet, LabRevision, hook_command
from pilot.testing.mesh import LoopbackMesh, PodSpec, random_block
from pilot.testing.processes import free_port, http_get, wait_until
from pilot.testing.runner import MeshClient, MeshRunner

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    os.geteuid() != 0 and int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) > 80,
    reason="Knative routes are on port 80: the client's sidecar must bind it")]

SERVICE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
           "metadata": {"name": "hello", "namespace": "default"},
           "spec": {"template": {"metadata": {"name": "hello-00001"},
                                 "spec": {"containers": [{"image": "example/hello",
                                                          "ports": [{"containerPort": 8080}]}]}}}}


def _client_docs(client: PodSpec) -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": client.name, "namespace": "default", "labels": {"app": "sleep"}},
             "spec": {"serviceAccountName": "sleep", "containers": [{"name": "app", "image": "none"}]},
             "status": {"podIP": client.ip}},
            {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
             "metadata": {"name": "sleep", "namespace": "default"},
             "spec": {"workloadSelector": {"labels": {"app": "sleep"}},
                      "egress": [{"port": {"number": 80, "protocol": "HTTP", "name": "http"},
                                  "bind": client.bind, "captureMode": "NONE", "hosts": ["./*"]}]}}]


def test_knative_service_scales_to_zero_and_back(tmp_path: Path) -> None:
    block = random_block()
    client = PodSpec("sleep", "v1", 10, block, service_account="sleep")
    a, b, c = block
    rev = LabRevision("hello", "hello-00001", f"{a}.{b}.{c}.11")
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "mesh.yaml").write_text(yaml.safe_dump_all([SERVICE, *_client_docs(client)]))
    requests, activator = tmp_path / "kubelet", free_port()
    runner = MeshRunner(cfg, LoopbackMesh(pods=[client]), extra_serve_args=[
        "--activator", f"127.0.0.1:{activator}", "--activation-hook", hook_command(requests, "activate"),
        "--deactivation-hook", hook_command(requests, "deactivate"),
        # 3 s idle: long enough that the first request surely finds the revision still warm.
        "--scale-to-zero-after", "3s", "--scale-to-zero-grace", "100ms"])
    kubelet = FakeKubelet(cfg, requests, [rev], runner.group)
    app = MeshClient(client, port=80)
    try:
        kubelet.scale_up(rev)  # a new revision starts with a pod, and is Ready once it had one
        kubelet.start()
        runner.start_control_plane()
        runner.start_envoy(client)
        wait_until(lambda: http_get(f"http://{client.admin}:15000/ready")[0] == 200, 20, what="sidecar ready")
        runner.wait_synced()
        status, _h, body = app.request("hello.default.svc.cluster.local")
        assert status == 200 and "k-proxy-request" not in json.loads(body)["headers"], body
        wait_until(lambda: kubelet.deactivations == [rev.name], 15, what="hello-00001 scaled to zero")
        status, _h, body = app.request("hello.default.svc.cluster.local")
        assert status == 200, body
        seen = json.loads(body)
        assert seen["version"] == rev.name and seen["headers"]["k-proxy-request"] == "activator"
        assert kubelet.activations == [rev.name]
    except BaseException:
        print(runner.report())
        raise
    finally:
        app.close()
        kubelet.stop()
        runner.stop()
