"""A Knative lab on loopback for the activator e2e tests: control plane with the activator, one ingress
gateway Envoy, and a FakeKubelet that starts and stops revision apps when the hooks ask."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from pilot.testing.knative_lab import GATEWAY_PORT, FakeKubelet, LabRevision, hook_command, lab_documents
from pilot.testing.mesh import LoopbackMesh, PodSpec
from pilot.testing.processes import free_port, http_get, wait_until
from pilot.testing.runner import MeshRunner


@dataclass
class Lab:
    runner: MeshRunner
    gateway: PodSpec
    kubelet: FakeKubelet
    revisions: dict[str, LabRevision]
    activator_port: int

    def request(self, service: str, path: str = "/", timeout: float = 15.0) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.gateway.ip, GATEWAY_PORT, timeout=timeout)
        try:
            conn.request("GET", path, headers={"host": f"{service}.example.com"})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def burst(self, service: str, n: int) -> list[tuple[int, dict[str, str], bytes]]:
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(lambda _i: self.request(service), range(n)))

    def metrics(self) -> str:
        return self.runner.http("/metrics")[1].decode()

    def metric(self, name: str, **labels: str) -> float:
        wanted = "".join(f'(?=[^}}]*{k}="{re.escape(v)}")' for k, v in labels.items())
        total = 0.0
        for m in re.finditer(rf"^{re.escape(name)}(?:\{{{wanted}[^}}]*\}})? (\S+)$", self.metrics(), re.M):
            total += float(m.group(1))
        return total

    def gateway_endpoints(self, revision: LabRevision) -> list[str]:
        """host:port of the revision cluster's endpoints as the gateway Envoy has applied them."""
        _s, body = http_get(f"http://{self.gateway.admin}:15000/clusters?format=json")
        name = f"outbound|80||{revision.name}.{revision.namespace}.svc.cluster.local"
        for cluster in json.loads(body).get("cluster_statuses", []):
            if cluster["name"] == name:
                return [f"{h['address']['socket_address']['address']}:{h['address']['socket_address']['port_value']}"
                        for h in cluster.get("host_statuses", [])]
        return []


@contextmanager
def knative_lab(tmp_path: Path, *, warm: tuple[str, ...] = (), broken: tuple[str, ...] = (),
                extra_args: tuple[str, ...] = ()) -> Iterator[Lab]:
    """Revisions hello-00001, other-00001 and broken-00001 (never starts); `warm` ones start with a pod."""
    mesh = LoopbackMesh()
    gateway = mesh.add_gateway(service_ports=((80, GATEWAY_PORT),))
    a, b, c = gateway.block
    revisions = {name: LabRevision(name, f"{name}-00001", f"{a}.{b}.{c}.{50 + i}")
                 for i, name in enumerate(("hello", "other", "broken"))}
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "mesh.yaml").write_text(yaml.safe_dump_all(mesh.documents() + lab_documents(list(revisions.values()))))
    activator_port = free_port()
    requests = tmp_path / "kubelet"
    args = ["--activator", f"127.0.0.1:{activator_port}", "--activation-hook", hook_command(requests, "activate"),
            "--deactivation-hook", hook_command(requests, "deactivate"), *extra_args]
    runner = MeshRunner(cfg, mesh, extra_serve_args=args)
    kubelet = FakeKubelet(cfg, requests, list(revisions.values()), runner.group,
                          broken=frozenset(revisions[n].name for n in broken))
    try:
        for name in warm:
            kubelet.scale_up(revisions[name])
        kubelet.start()
        runner.start_control_plane()
        runner.start_gateway(gateway)
        wait_until(lambda: http_get(f"http://{gateway.admin}:15000/ready")[0] == 200, 20, what="gateway ready")
        runner.wait_synced()
        yield Lab(runner, gateway, kubelet, revisions, activator_port)
    except BaseException:
        print(runner.report())
        raise
    finally:
        kubelet.stop()
        runner.stop()
