"""Several `pilot serve` replicas on one config for a MeshRunner's mesh; every Envoy knows all of them.

Replica 0 is the runner's own control plane (its ports); the others get their own free ports. The Envoys'
bootstraps list every replica (pilot.bootstrap_xds), so each proxy streams from one of them and fails over
to another when it goes away.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pilot.testing.mesh import PodSpec
from pilot.testing.processes import Proc, free_port, http_get, wait_until
from pilot.testing.runner import MeshRunner, python_env

# Envoy counters that move when config is (re)applied; equal before and after a failover means the
# reconnected stream changed nothing (https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/cluster_manager_stats
# and .../listeners/stats#listener-manager).
APPLY_COUNTERS = ("cluster_manager.cds.update_success", "cluster_manager.cluster_added",
                  "cluster_manager.cluster_modified", "cluster_manager.cluster_removed",
                  "listener_manager.lds.update_success", "listener_manager.listener_added",
                  "listener_manager.listener_modified", "listener_manager.listener_removed")


@dataclass
class Replica:
    name: str
    xds_port: int
    http_port: int
    proc: Proc | None = None

    def http(self, path: str) -> tuple[int, bytes]:
        return http_get(f"http://127.0.0.1:{self.http_port}{path}")

    def ready(self) -> bool:
        return self.http("/ready")[0] == 200

    def syncz(self) -> list[dict[str, Any]]:
        status, body = self.http("/debug/syncz")
        return list(json.loads(body)) if status == 200 else []

    def synced_proxies(self) -> set[str]:
        return {e["proxy"] for e in self.syncz()
                if all(t["status"] in ("SYNCED", "NOT_SENT") for t in e["types"].values())}

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no goodbye on any stream."""
        assert self.proc is not None and self.proc.alive()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.popen.wait(5)


class Replicas:
    def __init__(self, runner: MeshRunner, count: int = 2) -> None:
        self.runner = runner
        self.members = [Replica("pilot", runner.xds_port, runner.http_port)]
        self.members += [Replica(f"pilot-{i}", free_port(), free_port()) for i in range(1, count)]
        runner.replica_xds_ports = [r.xds_port for r in self.members[1:]]

    def start_all(self, timeout: float = 30) -> None:
        """Every replica, the apps and the Envoys; returns once each proxy is SYNCED on some replica."""
        for r in self.members:
            r.proc = self.runner.group.start(r.name, self.runner.serve_argv(r.xds_port, r.http_port),
                                             env=python_env())
        self.runner.control_plane = self.members[0].proc
        for r in self.members:
            wait_until(r.ready, timeout, what=f"{r.name} /ready")
        self.runner.start_apps()
        for pod in self.runner.proxies:
            self.runner.start_envoy(pod)
        wait_until(lambda: self.all_synced(), timeout, what="every proxy SYNCED on some replica")

    def all_synced(self) -> bool:
        synced = set().union(*(r.synced_proxies() for r in self.alive()))
        return all(p.node_id in synced for p in self.runner.proxies)

    def alive(self) -> list[Replica]:
        return [r for r in self.members if r.proc is not None and r.proc.alive()]

    def serving(self, pod: PodSpec) -> Replica:
        """The replica whose stream this proxy is on."""
        for r in self.alive():
            if pod.node_id in {e["proxy"] for e in r.syncz()}:
                return r
        raise LookupError(f"{pod.name} is connected to no replica")

    def report(self) -> str:
        out = [self.runner.group.report()]
        for r in self.alive():
            out.append(f"--- {r.name} /debug/syncz ---\n{json.dumps(r.syncz(), indent=1)}")
        return "\n".join(out)


def envoy_versions(pod: PodSpec) -> dict[str, str]:
    """Every `version_info` in the proxy's config dump (endpoints included), keyed by where it is."""
    _, body = http_get(f"http://{pod.admin}:15000/config_dump?include_eds")
    out: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            name = node.get("name") or node.get("cluster_name") or ""
            for key, value in node.items():
                if key == "version_info" and isinstance(value, str):
                    out[f"{path}/{name}"] = value
                elif key not in ("last_updated",):
                    walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                item_name = item.get("name", "") if isinstance(item, dict) else ""
                walk(item, f"{path}[{item_name or i}]")

    walk(json.loads(body), "")
    return out


def envoy_counters(pod: PodSpec, names: tuple[str, ...] = APPLY_COUNTERS) -> dict[str, int]:
    """`names`, plus every route configuration's `config_reload` (counted only when RDS content changed,
    https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/rds#statistics)."""
    wanted = quote(r"^(cluster_manager|listener_manager)\.|\.rds\..*\.config_reload$")
    _, body = http_get(f"http://{pod.admin}:15000/stats?filter={wanted}")
    values = {}
    for line in body.decode().splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            values[name] = int(value)
    return {n: v for n, v in values.items() if n in names or n.endswith(".config_reload")}


def envoy_gauge(pod: PodSpec, name: str) -> int:
    _, body = http_get(f"http://{pod.admin}:15000/stats?filter={quote(f'^{name}$')}")
    for line in body.decode().splitlines():
        key, _, value = line.partition(": ")
        if key == name and value.strip().isdigit():
            return int(value)
    return -1
