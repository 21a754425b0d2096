"""`pilot mesh up` leaves nothing behind: on Ctrl-C, SIGTERM and SIGHUP it stops every process it started
and deletes every namespace it made; after a SIGKILL `pilot mesh down` does it. Runs only as root with
network namespaces (skipped with the reason otherwise)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pilot.testing import netns
from pilot.testing.netns_state import MARKER_ENV, STATE_DIR
from pilot.testing.processes import http_get, wait_until
from pilot.testing.runner import python_env

pytestmark = pytest.mark.e2e

BOOKINFO = Path(__file__).resolve().parents[1] / "fixtures/istio/samples/bookinfo"

ONE_POD = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "details"},
     "spec": {"selector": {"app": "details"}, "ports": [{"name": "http", "port": 9080}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "details-v1"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "details"}}, "template": {
         "metadata": {"labels": {"app": "details", "version": "v1"}},
         "spec": {"containers": [{"name": "details", "image": "none", "ports": [{"containerPort": 9080}]}]}}}},
]


def mesh_up(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / "out.txt"
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "pilot", "mesh", "up", "--http-port", "0", "--no-ca", *args],
                                stdout=sink, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                env={**os.environ, **python_env()})
    return proc, out


def start_up(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, object], Path]:
    reason = netns.unsupported_reason()
    if reason:
        pytest.skip(f"needs network namespaces and iptables: {reason}")
    f = tmp_path / "one.yaml"
    f.write_text(yaml.safe_dump_all(ONE_POD))
    proc, out = mesh_up(tmp_path, "-f", str(f))
    try:
        wait_until(lambda: "stop: Ctrl-C" in out.read_text() or proc.poll() is not None, 40, what="mesh up")
        assert proc.poll() is None, out.read_text()
        prefix = out.read_text().split("network namespaces ")[1].split("-*")[0]
        state = json.loads((STATE_DIR / f"{prefix}.json").read_text())
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, state, out


def assert_gone(state: dict[str, object]) -> None:
    names = [str(n) for n in state["netns"]]  # type: ignore[attr-defined]
    assert names and all(not (netns.NETNS_RUN_DIR / n).exists() for n in names), names
    assert all(not (netns.NETNS_ETC_DIR / n).exists() for n in names)
    marker = f"{MARKER_ENV}={state['prefix']}".encode()
    left = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _has_marker(p, marker)]
    assert not left, f"processes left: {left}"
    assert not Path(str(state["workdir"])).exists()


def _has_marker(proc_dir: Path, marker: bytes) -> bool:
    try:
        return marker in (proc_dir / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_everything(tmp_path: Path, sig: signal.Signals) -> None:
    proc, state, out = start_up(tmp_path)
    assert len(state["netns"]) == 2  # type: ignore[arg-type]
    proc.send_signal(sig)
    rc = proc.wait(30)
    assert rc == (0 if sig == signal.SIGINT else 128 + sig), out.read_text()
    assert_gone(state)


def test_mesh_down_cleans_up_after_a_killed_up(tmp_path: Path) -> None:
    proc, state, _ = start_up(tmp_path)
    proc.kill()  # no chance to clean up: its children and namespaces stay
    proc.wait()
    time.sleep(0.2)
    done = subprocess.run([sys.executable, "-m", "pilot", "mesh", "down", "--id", str(state["prefix"])],
                          capture_output=True, text=True, env={**os.environ, **python_env()}, timeout=60)
    assert done.returncode == 0 and "removed what was left" in done.stdout, done.stdout + done.stderr
    assert_gone(state)


def test_the_loopback_layout_runs_the_same_yaml_where_namespaces_are_not_allowed(tmp_path: Path) -> None:
    files = ["platform/kube/bookinfo.yaml", "networking/destination-rule-all.yaml",
             "networking/virtual-service-reviews-80-20.yaml"]
    proc, out = mesh_up(tmp_path, "--layout", "loopback", *(a for f in files for a in ("-f", str(BOOKINFO / f))))
    try:
        wait_until(lambda: "productpage-v1-0.default" in out.read_text() or proc.poll() is not None, 40,
                   what="mesh up --layout loopback")
        text = out.read_text()
        assert text.startswith("pilot mesh up: loopback layout (as asked)"), text
        egress = text.split("productpage-v1-0.default")[1].split("calls out via ")[1].split()[0]
        seen: Counter[str] = Counter()
        for _ in range(100):
            status, body = http_get(egress, headers={"host": "reviews"})
            seen[json.loads(body)["version"] if status == 200 else f"HTTP {status}"] += 1
        assert set(seen) == {"v1", "v2"} and seen["v1"] > seen["v2"], seen
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM, out.read_text()
