"""Real pods on one machine: each pod in its own network namespace behind istio-init's iptables rules.

    node netns `<id>-node`:   bridge br0 10.213.0.1/16  (nothing routes to or from the host)
      └ veth `<id>v<n>` ── pod netns `<id>-<pod>.<ns>`: eth0 10.213.0.<n>/16, default via 10.213.0.1,
                           /etc/hosts (Services -> ClusterIPs), nat rules of istio-init,
                           the app (uid 1500) on its container ports, Envoy (uid 1337)
    host netns: `pilot serve` (HTTP on 127.0.0.1, xDS on a Unix socket the pods' Envoys connect to)

Used by `pilot mesh up` and by the e2e tests. Everything is named with a per-run prefix and removed by
name (`down()`); processes are stopped by PID. A state file in /run/meshpilot lets `pilot mesh down`
finish the job if the owner died (pilot/testing/netns_state.py).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pilot.testing import netns
from pilot.testing.istio_iptables import PROXY_UID, restore_input
from pilot.testing.netns_layout import POD_RANGE, SERVICE_RANGE, LabLayout, LabPod, lay_out
from pilot.testing.netns_pods import ADMIN_PORT, APP_UID, app_specs, envoy_argv, pod_bootstrap, python_for
from pilot.testing.netns_runtime import prepare_runtime
from pilot.testing.netns_state import MARKER_ENV, STATE_DIR, process_start, write_state
from pilot.testing.processes import Proc, ProcessGroup, free_port, http_get, wait_until
from pilot.testing.runner import python_env

BRIDGE = "br0"
# No DNS server in the lab (names are in /etc/hosts): without this the host's resolver, unreachable from
# a pod, makes every reverse lookup (Python's HTTPServer does one at bind) wait 10 s for its timeout.
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"


class LabError(RuntimeError):
    """The lab cannot start here (one line)."""


class NetnsLab:
    def __init__(self, docs: Iterable[Mapping[str, Any]], group: ProcessGroup | None = None, ca: bool = True,
                 app_uid: int = APP_UID, watch: Iterable[Path] = (), http_port: int = 0, owner: str = "kit"
                 ) -> None:
        """`docs`: the workloads (laid out once); `watch`: more config files or directories the control
        plane reads and follows live; `owner`: "mesh-up" when `pilot mesh down` may signal our process."""
        self.layout: LabLayout = lay_out(docs)
        self.group = group or ProcessGroup()
        self.workdir = self.group.workdir
        self.workdir.chmod(0o755)  # Envoy (uid 1337) reads its bootstrap here and connects to the socket
        self.runtime = prepare_runtime(self.workdir)
        self.prefix = netns.unique_prefix()
        self.ca_dir = self.workdir / "ca" if ca else None
        self.app_uid = app_uid
        self.config_dir = self.workdir / "config"
        self.xds_socket = self.workdir / "xds.sock"
        self.http_port = http_port
        self.watch = [Path(p).resolve() for p in watch]
        self.owner = owner
        self.created: list[str] = []  # namespaces, in creation order
        self.envoys: dict[str, Proc] = {}
        self.state_file = STATE_DIR / f"{self.prefix}.json"

    # ---- names ---------------------------------------------------------------------------------
    @property
    def node_netns(self) -> str:
        return f"{self.prefix}-node"

    def netns_of(self, pod: LabPod) -> str:
        return f"{self.prefix}-{pod.name}.{pod.namespace}"

    def pod(self, app: str, version: str = "") -> LabPod:
        return self.layout.pod(app, version)

    # ---- bring-up ------------------------------------------------------------------------------
    def up(self) -> None:
        reason = netns.unsupported_reason()
        if reason:
            raise LabError(f"network namespaces unavailable: {reason}")
        clash = netns.host_collisions(POD_RANGE, SERVICE_RANGE)
        if clash:
            raise LabError(f"the lab's ranges {POD_RANGE}, {SERVICE_RANGE} collide with the host: {clash[0]}")
        self._write_state()
        self.write_config()
        self.build_network()
        self.start_control_plane()
        for pod in self.layout.pods:
            self.start_app(pod)
            self.start_envoy(pod)
        self.wait_ready()

    def write_config(self) -> None:
        self.config_dir.mkdir(exist_ok=True)
        (self.config_dir / "lab.yaml").write_text(yaml.safe_dump_all(list(self.layout.documents), sort_keys=False))

    def apply(self, name: str, docs: Iterable[Mapping[str, Any]]) -> None:
        """Add (or replace) a file of config the control plane watches, as `kubectl apply` would."""
        (self.config_dir / name).write_text(yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False))

    def build_network(self) -> None:
        self._add_netns(self.node_netns)
        netns.add_bridge(self.node_netns, BRIDGE, f"{_gateway()}/{POD_RANGE.prefixlen}")
        rules = restore_input()
        for pod in self.layout.pods:
            name = self.netns_of(pod)
            self._add_netns(name)
            netns.plug(self.node_netns, BRIDGE, f"{self.prefix}v{pod.index}", name,
                       f"{pod.ip}/{POD_RANGE.prefixlen}", _gateway())
            netns.write_etc(name, "hosts", self.layout.hosts_file(pod))
            netns.write_etc(name, "resolv.conf", RESOLV_CONF)
            netns.iptables_restore(name, rules)

    def _add_netns(self, name: str) -> None:
        self.created.append(name)
        self._write_state()
        netns.add_netns(name)

    def start_control_plane(self) -> Proc:
        self.http_port = self.http_port or free_port()
        argv = [sys.executable, "-m", "pilot", "serve", "--config", str(self.config_dir),
                *(a for w in self.watch for a in ("--config", str(w))),
                "--xds-address", f"unix:{self.xds_socket}", "--http-address", f"127.0.0.1:{self.http_port}"]
        argv += ["--ca-dir", str(self.ca_dir)] if self.ca_dir is not None else []
        proc = self._start("pilot", argv)
        wait_until(lambda: not proc.alive() or self.http("/ready")[0] == 200, 30, what="control plane /ready")
        if not proc.alive():
            raise LabError(f"the control plane exited: {' '.join(proc.log_tail(1).split())[-300:]}")
        self.xds_socket.chmod(0o666)  # Envoys run as uid 1337; connecting needs write permission
        return proc

    def start_app(self, pod: LabPod) -> Proc:
        argv = [python_for(self.app_uid), self.runtime.app_script, *app_specs(pod)]
        return self._start(f"app-{pod.name}", netns.exec_argv(self.netns_of(pod), argv, self.app_uid))

    def start_envoy(self, pod: LabPod, log_level: str = "warn") -> Proc:
        path = self.workdir / f"envoy-{pod.name}.{pod.namespace}.yaml"
        path.write_text(yaml.safe_dump(pod_bootstrap(pod, self.xds_socket, self._token(pod))))
        path.chmod(0o644)
        argv = netns.exec_argv(self.netns_of(pod), envoy_argv(self.runtime.envoy, path, log_level), PROXY_UID)
        proc = self.envoys[pod.name] = self._start(f"envoy-{pod.name}", argv)
        return proc

    def _start(self, name: str, argv: list[str]) -> Proc:
        proc = self.group.start(name, argv, env={**python_env(), MARKER_ENV: self.prefix})
        self._write_state()
        return proc

    def _token(self, pod: LabPod) -> str:
        if self.ca_dir is None:
            return ""
        from pilot.security.credentials import issue_proxy_token

        return issue_proxy_token(self.ca_dir, pod.node_id, pod.service_account)

    def wait_ready(self, timeout: float = 30) -> None:
        for pod in self.layout.pods:
            for port in pod.ports:  # from root on lo: left alone by the capture rules, so this is the app
                wait_until(lambda p=pod, n=port: self.listening(p, n), timeout, what=f"app {pod.name}:{port}")
            wait_until(lambda p=pod: self.admin(p, "/ready")[0] == 200, timeout, what=f"envoy {pod.name} ready")
        wait_until(self.all_synced, timeout, what="every proxy SYNCED in /debug/syncz")

    # ---- observing and acting ------------------------------------------------------------------
    def http(self, path: str) -> tuple[int, bytes]:
        return http_get(f"http://127.0.0.1:{self.http_port}{path}")

    def admin(self, pod: LabPod, path: str) -> tuple[int, bytes]:
        """GET on the pod's Envoy admin (127.0.0.1:15000 inside the pod)."""
        return netns.in_netns(self.netns_of(pod), lambda: http_get(f"http://127.0.0.1:{ADMIN_PORT}{path}"))

    def cluster_ip(self, service: str, namespace: str = "default") -> str:
        return next(s.cluster_ip for s in self.layout.services if (s.name, s.namespace) == (service, namespace))

    def envoy_counter(self, pod: LabPod, suffix: str) -> int:
        """Sum of the pod's Envoy counters whose name ends with `suffix`."""
        body = self.admin(pod, f"/stats?filter={suffix}")[1].decode()
        return sum(int(v) for n, _, v in (line.partition(": ") for line in body.splitlines())
                   if n.endswith(suffix) and v.strip().isdigit())

    def listening(self, pod: LabPod, port: int) -> bool:
        def probe() -> bool:
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(("127.0.0.1", port)) == 0

        return netns.in_netns(self.netns_of(pod), probe)

    def all_synced(self) -> bool:
        status = {s["proxy"]: s for s in json.loads(self.http("/debug/syncz")[1])}
        return all(p.node_id in status and all(t["status"] in ("SYNCED", "NOT_SENT")
                                               for t in status[p.node_id]["types"].values())
                   for p in self.layout.pods)

    def run_in(self, pod: LabPod | None, argv: list[str], uid: int | None = None, timeout: float = 60
               ) -> subprocess.CompletedProcess[str]:
        """Run a command in a pod's netns (None: the node's, outside every pod) as `uid`."""
        where = self.netns_of(pod) if pod is not None else self.node_netns
        return subprocess.run(netns.exec_argv(where, argv, uid), capture_output=True, text=True,
                              timeout=timeout, check=False, env={**os.environ, **python_env()})

    def call(self, pod: LabPod | None, url: str, n: int = 1, headers: Mapping[str, str] | None = None,
             uid: int | None = None) -> dict[str, Any]:
        """An app's requests from `pod` (as the app's uid unless told): `{"answers": {...}, "last": ...}`."""
        uid = self.app_uid if uid is None else uid
        argv = [python_for(uid), self.runtime.client_script, url, "-n", str(n)]
        argv += [f"-H{k}: {v}" for k, v in (headers or {}).items()]
        done = self.run_in(pod, argv, uid)
        if done.returncode != 0:
            raise RuntimeError(f"client in {pod.name if pod else 'node'} failed: {done.stderr.strip()[-500:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def report(self) -> str:
        try:
            sync = self.http("/debug/syncz")[1].decode()
        except Exception as exc:
            sync = f"(syncz unavailable: {exc})"
        return self.group.report() + "\n--- /debug/syncz ---\n" + sync

    # ---- tear-down -----------------------------------------------------------------------------
    def down(self) -> None:
        """Stop every process (by PID), delete every namespace of this run (by name), remove files."""
        self.group.stop_all()
        for name in reversed(self.created):
            netns.delete_netns(name)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def _write_state(self) -> None:
        write_state(self.state_file, {"owner": os.getpid(), "owner_started": process_start(os.getpid()),
                                      "kind": self.owner, "prefix": self.prefix, "netns": self.created,
                                      "workdir": str(self.workdir), "pids": [p.pid for p in self.group.procs]})


def _gateway() -> str:
    return str(POD_RANGE.network_address + 1)
