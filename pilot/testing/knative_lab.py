"""Knative revisions on loopback without Kubernetes: the config, and a fake kubelet that scales them.

The config is what the Knative routing layer produces, written by hand: per revision a Service
`{rev}` (port 80 -> the app's port) selecting `serving.knative.dev/revision: {rev}`, and a
VirtualService on an ingress gateway that routes `{service}.example.com` to it, setting the
`Knative-Serving-Revision`/`-Namespace` headers. A gateway keeps every listener on an unprivileged
port (Gateway port 80 -> Service targetPort 8080).

Scaling is done by `FakeKubelet`, a thread of the test (or demo) process: the control plane's hooks
run `python -m pilot.testing.knative_lab hook DIR activate|deactivate NS REV`, which drops a request
file into DIR and waits until the kubelet has acted. Activating starts the app and then writes the
revision's Pod into the config directory (the pod is "ready" once the app listens); deactivating
removes the Pod, then stops the app. Every app is a process of the kubelet's ProcessGroup.
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pilot.model.revisions import REVISION_LABEL
from pilot.testing.processes import Proc, ProcessGroup, wait_port

APP_PORT = 8080
GATEWAY_PORT = 8080  # where the gateway listens for the Gateway server port 80


@dataclass(frozen=True)
class LabRevision:
    service: str
    name: str
    ip: str
    namespace: str = "default"

    @property
    def host(self) -> str:
        return f"{self.service}.example.com"

    @property
    def key(self) -> str:
        return f"{self.namespace}.{self.name}"


def lab_documents(revisions: list[LabRevision], gateway_ns: str = "istio-system") -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [{
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "knative-gateway", "namespace": gateway_ns},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}}]
    for rev in revisions:
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": rev.name, "namespace": rev.namespace},
                     "spec": {"selector": {REVISION_LABEL: rev.name},
                              "ports": [{"name": "http", "port": 80, "targetPort": APP_PORT}]}})
        docs.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                     "metadata": {"name": f"{rev.service}-ingress", "namespace": rev.namespace},
                     "spec": {"hosts": [rev.host], "gateways": [f"{gateway_ns}/knative-gateway"],
                              "http": [{"route": [{
                                  "destination": {"host": f"{rev.name}.{rev.namespace}.svc.cluster.local",
                                                  "port": {"number": 80}},
                                  "headers": {"request": {"set": {"Knative-Serving-Revision": rev.name,
                                                                  "Knative-Serving-Namespace": rev.namespace}}}}],
                                  "retries": {"attempts": 0}}]}})
    return docs


def pod_document(rev: LabRevision) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{rev.name}-deployment-0", "namespace": rev.namespace,
                         "labels": {REVISION_LABEL: rev.name, "app": rev.service}},
            "spec": {"containers": [{"name": "user-container", "image": "none",
                                     "ports": [{"containerPort": APP_PORT}]}]},
            "status": {"podIP": rev.ip}}


def hook_command(request_dir: Path, action: str) -> str:
    """The `--activation-hook` / `--deactivation-hook` value that asks a FakeKubelet watching `request_dir`."""
    argv = [sys.executable, "-m", "pilot.testing.knative_lab", "hook", str(request_dir), action]
    return shlex.join(argv) + " {namespace} {revision}"


@dataclass
class FakeKubelet:
    """Acts on hook requests; `broken` revisions are never started (activation timeouts)."""

    config_dir: Path
    request_dir: Path
    revisions: list[LabRevision]
    group: ProcessGroup
    env: dict[str, str] = field(default_factory=dict)
    start_delay: float = 0.0  # extra cold-start time (an image pull)
    broken: frozenset[str] = frozenset()
    activations: list[str] = field(default_factory=list)
    deactivations: list[str] = field(default_factory=list)
    apps: dict[str, Proc] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.request_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="fake-kubelet", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def ask(self, rev: LabRevision, action: str) -> None:
        """What a hook does, without waiting for it: the kubelet acts on its own thread."""
        (self.request_dir / f"{rev.key}.{action}.request").write_text(str(time.time()))

    def scale_up(self, rev: LabRevision) -> None:
        """Start the app, then publish its Pod (what a Deployment going 0 -> 1 amounts to)."""
        if rev.name not in self.apps or not self.apps[rev.name].alive():
            from pilot.testing.runner import python_env

            spec = f"{rev.service}:{rev.name}@{rev.ip}:{APP_PORT}/{rev.name}-deployment-0"
            self.apps[rev.name] = self.group.start(f"app-{rev.name}", [sys.executable, "-m", "pilot.testing.apps",
                                                                       spec], env={**python_env(), **self.env})
            wait_port(rev.ip, APP_PORT)
        time.sleep(self.start_delay)
        self._pod_path(rev).write_text(yaml.safe_dump(pod_document(rev)))

    def scale_down(self, rev: LabRevision) -> None:
        self._pod_path(rev).unlink(missing_ok=True)
        proc = self.apps.pop(rev.name, None)
        if proc is not None:
            proc.stop()

    def _pod_path(self, rev: LabRevision) -> Path:
        return self.config_dir / f"pod-{rev.namespace}-{rev.name}.yaml"

    def _run(self) -> None:
        by_key = {r.key: r for r in self.revisions}
        while not self._stop.is_set():
            for req in sorted(self.request_dir.glob("*.request")):
                key, action = req.stem.rsplit(".", 1)
                rev = by_key.get(key)
                if rev is not None and action == "activate" and rev.name not in self.broken:
                    self.activations.append(rev.name)
                    self.scale_up(rev)
                elif rev is not None and action == "deactivate":
                    self.deactivations.append(rev.name)
                    self.scale_down(rev)
                req.unlink(missing_ok=True)
            self._stop.wait(0.02)


def _hook(request_dir: str, action: str, namespace: str, revision: str, timeout: float = 30.0) -> int:
    """Ask the kubelet and wait until it has acted (it removes the request file when done)."""
    path = Path(request_dir) / f"{namespace}.{revision}.{action}.request"
    path.write_text(str(time.time()))
    deadline = time.monotonic() + timeout
    while path.exists():
        if time.monotonic() > deadline:
            print(f"knative_lab hook: nobody acted on {path} within {timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[1] != "hook":
        print("usage: python -m pilot.testing.knative_lab hook DIR activate|deactivate NAMESPACE REVISION",
              file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(_hook(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
