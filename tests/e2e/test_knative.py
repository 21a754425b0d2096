"""Knative Serving routing through real Envoy (docs/knative.md): the bundled policies/knative example on this
test's own loopback block, a client sidecar calling the Knative Service's cluster-local URLs.

- a 90/10 split between two revisions lands within ±3 points over 1000 requests;
- the tag host reaches only its revision, with Knative's revision headers set (a client's own value is
  overwritten, not appended);
- a template edit creates `hello-00002`, and with `serving.knative.dev/rollout-duration: 6s` its share
  grows step by step to 100 % while traffic runs, with no failed request.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pilot.testing.mesh import LoopbackMesh, PodSpec, random_block
from pilot.testing.processes import wait_until
from pilot.testing.runner import MeshClient, MeshRunner

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "policies/knative"
HOST = "hello.default.svc.cluster.local"
TAG_HOST = "v1-hello.default.svc.cluster.local"
WORKERS = 8


def _can_bind_port_80() -> bool:
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) if Path(
        "/proc/sys/net/ipv4/ip_unprivileged_port_start").exists() else 1024
    return os.geteuid() == 0 or start <= 80


# Knative routes are on port 80, so the client's sidecar listens on port 80 (loopback-mesh.md).
pytestmark = pytest.mark.skipif(not _can_bind_port_80(), reason="needs to bind port 80 on loopback")


class KnativeMesh:
    """The example's addresses moved to a random block: 127.10.40-42.x become a.b.c..c+2.x."""

    def __init__(self, tmp: Path) -> None:
        self.block = random_block()
        self.client = PodSpec("sleep", "v1", 10, self.block, service_account="sleep")
        a, b, c = self.block
        self.moves = {f"127.10.{40 + i}.": f"{a}.{b}.{c + i}." for i in range(3)}
        self.dir = tmp / "config"
        self.dir.mkdir()

    def ip(self, n: int) -> str:
        a, b, c = self.block
        return f"{a}.{b}.{c}.{n}"

    def write(self, name: str, text: str) -> None:
        for old, new in self.moves.items():
            text = text.replace(old, new)
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(text)
        tmp.rename(self.dir / name)  # atomic: the watcher never sees half a file

    def app_specs(self) -> list[str]:
        return [f"hello:00001@{self.ip(11)}:8080/hello-00001-deployment-0",
                f"hello:00002@{self.ip(12)}:8080/hello-00002-deployment-0"]


@pytest.fixture
def knative(tmp_path: Path) -> Iterator[tuple[KnativeMesh, MeshRunner]]:
    kn = KnativeMesh(tmp_path)
    kn.write("mesh.yaml", (EXAMPLE / "mesh.yaml").read_text())
    yield kn, MeshRunner(kn.dir, LoopbackMesh(pods=[kn.client]))


def _start(kn: KnativeMesh, runner: MeshRunner) -> None:
    runner.start_extra_apps(kn.app_specs(), name="revisions")


def _hit(client: MeshClient, host: str, headers: dict[str, str] | None = None) -> tuple[str, dict]:
    try:
        status, _h, body = client.request(host, "/", headers)
    except OSError as exc:
        return f"error {type(exc).__name__}", {}
    if status != 200:
        return f"HTTP {status}", {}
    data = json.loads(body)
    return str(data["version"]), data


def _spray(kn: KnativeMesh, host: str, total: int) -> Counter[str]:
    """`total` requests from WORKERS keep-alive connections at once."""
    def work(n: int) -> Counter[str]:
        client = MeshClient(kn.client, port=80)
        try:
            return Counter(_hit(client, host)[0] for _ in range(n))
        finally:
            client.close()

    with ThreadPoolExecutor(WORKERS) as pool:
        parts = pool.map(work, [total // WORKERS + (i < total % WORKERS) for i in range(WORKERS)])
    return sum(parts, Counter())


def _wait_routed(kn: KnativeMesh, host: str, version: str, timeout: float = 20) -> None:
    client = MeshClient(kn.client, port=80)
    try:
        wait_until(lambda: _hit(client, host)[0] == version, timeout, what=f"{host} reaching {version}")
    finally:
        client.close()


def test_split_and_tag_host(knative: tuple[KnativeMesh, MeshRunner]) -> None:
    kn, runner = knative
    kn.write("service.yaml", (EXAMPLE / "service.yaml").read_text())
    with runner.running():
        _start(kn, runner)
        _wait_routed(kn, TAG_HOST, "00001")

        seen = _spray(kn, HOST, 1000)
        assert sum(seen.values()) == 1000 and set(seen) == {"00001", "00002"}, seen
        print("split over 1000 requests:", dict(seen))
        assert abs(seen["00002"] - 900) <= 30, seen  # 90/10 within ±3 points

        tagged = _spray(kn, TAG_HOST, 200)
        assert tagged == Counter({"00001": 200}), tagged

        client = MeshClient(kn.client, port=80)
        version, data = _hit(client, TAG_HOST, {"Knative-Serving-Revision": "forged"})
        client.close()
        assert version == "00001"
        assert data["headers"]["knative-serving-revision"] == "hello-00001"  # set, not appended
        assert data["headers"]["knative-serving-namespace"] == "default"


ROLLOUT_SERVICE = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: default
  annotations: {serving.knative.dev/rollout-duration: "6s"}
spec:
  template:
    spec:
      containers: [{image: "ghcr.io/knative/helloworld-go:IMAGE", ports: [{containerPort: 8080}]}]
"""


def test_rollout_moves_traffic_gradually_without_errors(knative: tuple[KnativeMesh, MeshRunner]) -> None:
    kn, runner = knative
    kn.write("service.yaml", ROLLOUT_SERVICE.replace("IMAGE", "v1"))
    with runner.running():
        _start(kn, runner)
        _wait_routed(kn, HOST, "00001")
        results: list[tuple[float, str]] = []
        stop = threading.Event()

        def load() -> None:
            client = MeshClient(kn.client, port=80)
            while not stop.is_set():
                version, _ = _hit(client, HOST)
                results.append((time.monotonic(), version))
                time.sleep(0.005)
            client.close()

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            edited = time.monotonic()
            kn.write("service.yaml", ROLLOUT_SERVICE.replace("IMAGE", "v2"))  # the next revision: hello-00002
            wait_until(lambda: results and results[-1][1] == "00002" and _share_since(results, 0.5) == 1.0,
                       20, what="the rollout reaching 100 %")
            done = time.monotonic()
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        failed = Counter(v for _, v in results if v not in ("00001", "00002"))
        assert not failed, failed
        windows = _windows(results, edited, done + 0.5)
        shares = [round(s, 2) for s in windows]
        print(f"rollout: {done - edited:.1f}s, share of hello-00002 per second: {shares}, {len(results)} requests")
        assert shares[-1] == 1.0, shares
        assert any(0.05 < s < 0.95 for s in shares), shares  # it went through intermediate steps
        assert all(b >= a - 0.08 for a, b in itertools.pairwise(shares)), shares  # monotonic
        assert 4.0 <= done - edited <= 12.0, (done - edited, shares)  # about the 6 s asked for
        status = json.loads(runner.http("/debug/knative")[1])
        service = next(o for o in status["objects"] if o["kind"] == "KnativeService")
        assert service["status"]["latestReadyRevisionName"] == "hello-00002"
        assert service["status"]["traffic"] == [{"revisionName": "hello-00002", "configurationName": "hello",
                                                 "latestRevision": True, "percent": 100}]
        assert {r["name"] for r in status["revisions"]} == {"hello-00001", "hello-00002"}


def _share_since(results: list[tuple[float, str]], seconds: float) -> float:
    recent = [v for t, v in results[-200:] if t >= results[-1][0] - seconds]
    return sum(v == "00002" for v in recent) / max(1, len(recent))


def _windows(results: list[tuple[float, str]], start: float, end: float, width: float = 1.0) -> list[float]:
    out = []
    t = start
    while t < end:
        window = [v for ts, v in results if t <= ts < t + width]
        if window:
            out.append(sum(v == "00002" for v in window) / len(window))
        t += width
    return out
