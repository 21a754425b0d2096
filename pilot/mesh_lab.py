"""`pilot mesh up` / `pilot mesh down`: Kubernetes + Istio YAML run as real pods on this machine.

`up` lays the workloads out (pilot/testing/netns_layout.py), builds one network namespace per pod with
istio-init's capture rules, and runs the control plane, the apps and one Envoy per pod
(pilot/testing/netns_lab.py, docs/netns-lab.md) until Ctrl-C, SIGTERM, SIGHUP or `--duration`; then it
stops every process by PID and deletes every namespace it made. Where namespaces cannot be made (not root,
no iptables) it says so in one line and runs the same YAML in the loopback layout (pilot/mesh_loopback.py).
`down` ends labs whose `up` is still running (SIGTERM) and cleans up after ones that died.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from pilot.demo_lifecycle import DemoProcesses, SignalGuard, Stop, exit_code
from pilot.sources.yaml_files import yaml_files
from pilot.testing import netns
from pilot.testing.netns_lab import LabError, NetnsLab
from pilot.testing.netns_layout import POD_RANGE, SERVICE_RANGE, LayoutError
from pilot.testing.netns_pods import APP_UID, python_for
from pilot.testing.netns_state import STATE_DIR, cleanup_state, process_start

WORKLOAD_KINDS = frozenset({"Deployment", "Pod", "Service", "ServiceAccount"})


class MeshUpError(Exception):
    """One line for the user."""


def read_inputs(paths: list[str]) -> tuple[list[dict[str, Any]], list[Path]]:
    """(workload documents to lay out, policy-only files for the control plane to watch)."""
    files = yaml_files(paths)
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise MeshUpError(f"{missing[0]}: no such file or directory")
    workloads: list[dict[str, Any]] = []
    policies: list[Path] = []
    for f in files:
        try:
            docs = [d for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise MeshUpError(f"{f}: {' '.join(str(exc).split())}") from exc
        if any(d.get("kind") in WORKLOAD_KINDS for d in docs):
            workloads += docs
        else:
            policies.append(f)
    return workloads, policies


def summary(lab: NetnsLab) -> list[str]:
    pods, services = lab.layout.pods, lab.layout.services
    lines = [f"pilot mesh up: {len(pods)} pods in network namespaces {lab.prefix}-* (pods {POD_RANGE}, "
             f"ClusterIPs {SERVICE_RANGE}), iptables capture as istio-init",
             f"control plane: http://127.0.0.1:{lab.http_port} (xDS on unix:{lab.xds_socket}); "
             f"more YAML in {lab.config_dir} is applied live"]
    width = max(len(f"{p.name}.{p.namespace}") for p in pods)
    lines += [f"  {p.name + '.' + p.namespace:<{width}}  {p.ip:<12}  netns {lab.netns_of(p)}" for p in pods]
    lines += ["  services: " + ", ".join(f"{s.name}.{s.namespace} {s.cluster_ip}" for s in services)]
    client, target = pods[-1], next((s for s in services if s.name != pods[-1].app), None)
    if target is not None and client.ports:
        lines += [f"try: ip netns exec {lab.netns_of(client)} setpriv --reuid={APP_UID} "
                  f"--regid={APP_UID} --clear-groups {python_for(APP_UID)} {lab.runtime.client_script} "
                  f"http://{target.name}:{client.ports[0]}/ -n 10"]
    lines += ["stop: Ctrl-C, SIGTERM, or `pilot mesh down`"]
    return lines


def run_up(paths: list[str], duration: float = 0, ca: bool = True, layout: str = "auto",
           http_port: int = 15014) -> int:
    try:
        docs, policies = read_inputs(paths)
    except MeshUpError as exc:
        print(f"pilot mesh up: {exc}", file=sys.stderr)
        return 2
    reason = netns.unsupported_reason() if layout != "loopback" else "loopback"
    if reason and layout == "netns":
        print(f"pilot mesh up: network namespaces unavailable: {reason}", file=sys.stderr)
        return 1
    guard = SignalGuard()
    group = DemoProcesses(guard=guard)
    code = 0
    with guard:
        lab = None
        try:
            if reason:
                from pilot.mesh_loopback import run_loopback

                why = "as asked" if layout == "loopback" else f"network namespaces unavailable: {reason}"
                print(f"pilot mesh up: loopback layout ({why}): Sidecar captureMode NONE, apps call their "
                      "sidecar's egress address", flush=True)
                return run_loopback(docs, policies, group, ca, http_port, duration)
            lab = NetnsLab(docs, group=group, ca=ca, watch=policies, http_port=http_port, owner="mesh-up")
            lab.up()
            print("\n".join(summary(lab)), flush=True)
            _wait(group, duration)
        except Stop as stop:
            code = exit_code(stop.signum)
        except (LabError, LayoutError, netns.NetnsError, TimeoutError, MeshUpError) as exc:
            print(f"pilot mesh up: {exc}", file=sys.stderr)
            code = 1
        except Exception as exc:  # a bug: still one line, and everything stopped
            print(f"pilot mesh up: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 1
        finally:
            guard.stopping()
            if lab is not None:
                lab.down()
            group.cleanup()
    return code


def _wait(group: DemoProcesses, duration: float) -> None:
    deadline = time.monotonic() + duration if duration else float("inf")
    while time.monotonic() < deadline:
        dead = group.dead()
        if dead:
            raise MeshUpError(f"{dead[0].name} exited (rc {dead[0].popen.returncode}): "
                              f"{' '.join(dead[0].log_tail(1).split())}")
        time.sleep(0.2)


def run_down(prefix: str = "", wait_s: float = 20) -> int:
    states = sorted(STATE_DIR.glob(f"{prefix or 'mp'}*.json")) if STATE_DIR.is_dir() else []
    if not states:
        print("pilot mesh down: no lab found" + (f" named {prefix}" if prefix else ""))
        return 0 if not prefix else 1
    for path in states:
        print(f"pilot mesh down: {_down_one(path, wait_s)}")
    return 0


def _down_one(path: Path, wait_s: float) -> str:
    import json

    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"{path}: unreadable state ({exc})"
    owner, name = int(state.get("owner", 0)), state.get("prefix", path.stem)
    alive = owner and process_start(owner) == state.get("owner_started")
    if alive and state.get("kind") != "mesh-up":
        return f"{name}: in use by pid {owner} (a test kit), left alone"
    if alive:
        os.kill(owner, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not path.exists():
            return f"{name}: stopped (pid {owner})"
    removed = cleanup_state(path)
    return f"{name}: removed what was left ({', '.join(removed) or 'nothing running'})"
