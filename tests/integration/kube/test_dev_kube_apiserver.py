"""`pilot dev kube-apiserver` / `pilot dev apply`: kube mode on one machine, as the README recipe runs it.

The server runs as its own process; the official client, `pilot dev apply` and the kube source talk to it
through the kubeconfig it writes. Pods keep the `status.podIP` they were created with.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from pilot.model.resource import ConfigKey
from pilot.model.snapshot import build_snapshot
from pilot.sources.kube import KubeOptions, KubeSource
from pilot.sources.store import ConfigStore
from tests.integration.kube import objects
from tests.integration.kube.conftest import FAST, wait_for

REPO = Path(__file__).resolve().parents[3]
PILOT = [sys.executable, "-m", "pilot"]


def test_dev_apiserver_keeps_pod_ips_and_feeds_the_kube_source(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    server = subprocess.Popen([*PILOT, "dev", "kube-apiserver", "--port", "0", "--kubeconfig-out", str(kubeconfig),
                               "--load", str(REPO / "policies/bookinfo/mesh.yaml")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("kube-apiserver on https://127.0.0.1:") and "objects loaded" in first, first
        kube = config.new_client_from_config(config_file=str(kubeconfig))
        core = client.CoreV1Api(kube)
        # The client creates a Pod with status.podIP and reads it back with the IP.
        core.create_namespaced_pod("default", objects.pod("ratings-v9-0", app="ratings", ip="127.60.0.9"))
        assert core.read_namespaced_pod("ratings-v9-0", "default").status.pod_ip == "127.60.0.9"
        # `pilot dev apply` creates (and re-applies) from a file, into a namespace it creates.
        f = tmp_path / "pod.yaml"
        f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: extra, namespace: shop, labels: {app: x}}\n"
                     "spec: {containers: [{name: a, image: x}]}\nstatus: {podIP: 127.60.0.10}\n")
        for verb in ("created", "configured"):
            p = subprocess.run([*PILOT, "dev", "apply", "--kubeconfig", str(kubeconfig), "-f", str(f)],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0 and p.stdout.strip() == f"pod/extra {verb}", p
        assert core.read_namespaced_pod("extra", "shop").status.pod_ip == "127.60.0.10"
        # The kube source sees the preloaded Bookinfo and the new Pods as workloads.
        store = ConfigStore()
        src = KubeSource(store, kube, KubeOptions(reflector=FAST))
        src.start()
        try:
            assert src.wait_synced(20), src.problems()
            keys = {r.key for r in store.resources()}
            assert ConfigKey("Service", "default", "reviews") in keys
            wait_for(lambda: ConfigKey("Pod", "shop", "extra") in {r.key for r in store.resources()})
            ips = {w.name: w.ip for w in build_snapshot(store.resources()).workloads}
            assert ips["ratings-v9-0"] == "127.60.0.9" and ips["extra"] == "127.60.0.10"
            assert ips["reviews-v2-0"]  # preloaded with --load, podIP kept
        finally:
            src.stop()
    finally:
        server.send_signal(signal.SIGTERM)
        start = time.monotonic()
        assert server.wait(10) == 0
        assert time.monotonic() - start < 10


def test_dev_apply_errors_are_one_line(tmp_path: Path) -> None:
    p = subprocess.run([*PILOT, "dev", "apply", "--kubeconfig", str(tmp_path / "none"), "-f",
                        str(REPO / "policies/bookinfo/mesh.yaml")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "no kubeconfig" in p.stderr, p
    p = subprocess.run([*PILOT, "dev", "kube-apiserver", "--load", str(tmp_path / "missing.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "missing.yaml" in p.stderr, p


def test_describe_pod_reads_kubernetes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pilot.cli import main
    from pilot.testing.dev_kube import read_documents
    from pilot.testing.kube_apiserver import FakeKubeApiServer

    with FakeKubeApiServer() as api:
        for doc in read_documents([str(REPO / "policies/bookinfo")]):
            api.apply(doc)
        kubeconfig = api.write_kubeconfig(tmp_path / "kc")
        assert main(["x", "describe", "pod", "reviews-v2-0.default", "--kube", "--kubeconfig", str(kubeconfig)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "   Matching subsets: v2" in out and '      to "reviews" subset "v2" weight 20%  <- this pod' in out
