"""Run a whole mesh on loopback: control plane, tiny apps and one real Envoy per pod.

Used by the e2e tests and by `pilot demo`. Every process is started in its own session and stopped by PID.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

import pilot
from pilot.bootstrap import bootstrap
from pilot.testing.envoy import envoy_binary
from pilot.testing.mesh import SERVICE_PORT, LoopbackMesh, PodSpec
from pilot.testing.processes import Proc, ProcessGroup, free_port, http_get, wait_port, wait_until

REPO_ROOT = Path(pilot.__file__).resolve().parent.parent


def python_env() -> dict[str, str]:
    # Import pilot from this checkout in child processes (the repo root, never pilot/ itself).
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))}


class MeshRunner:
    def __init__(self, config_dir: Path, mesh: LoopbackMesh, group: ProcessGroup | None = None,
                 extra_serve_args: list[str] | None = None, delta: bool = False, ca_dir: Path | None = None,
                 cert_ttl: str = "", xds_tls: bool = False) -> None:
        self.config_dir = Path(config_dir)
        self.mesh = mesh
        self.group = group or ProcessGroup()
        self.xds_port = free_port()
        self.http_port = free_port()
        self.extra_serve_args = extra_serve_args or []
        # With a CA dir the control plane runs Citadel (mTLS, SDS) and every Envoy gets a credential.
        self.ca_dir = ca_dir
        if ca_dir is not None:
            self.extra_serve_args += ["--ca-dir", str(ca_dir)] + (["--cert-ttl", cert_ttl] if cert_ttl else [])
            self.extra_serve_args += ["--xds-tls"] if xds_tls else []
        self.xds_tls = xds_tls and ca_dir is not None
        self.control_plane: Proc | None = None
        # Further `pilot serve` replicas the Envoys also know (pilot.testing.replicas).
        self.replica_xds_ports: list[int] = []
        self.envoys: dict[str, Proc] = {}
        self.delta = delta  # Envoys use incremental (delta) ADS

    # ---- processes -----------------------------------------------------------------------------
    def serve_argv(self, xds_port: int, http_port: int) -> list[str]:
        return [sys.executable, "-m", "pilot", "serve", "--config", str(self.config_dir),
                "--xds-address", f"127.0.0.1:{xds_port}", "--http-address", f"127.0.0.1:{http_port}",
                *self.extra_serve_args]

    def start_control_plane(self, wait: bool = True) -> Proc:
        argv = self.serve_argv(self.xds_port, self.http_port)
        self.control_plane = self.group.start("pilot", argv, env=python_env())
        if wait:
            wait_until(lambda: self.http("/ready")[0] == 200, 20, what="control plane /ready")
        return self.control_plane

    def start_apps(self, wait: bool = True) -> Proc:
        proc = self.group.start("apps", [sys.executable, "-m", "pilot.testing.apps", *self.mesh.app_specs()],
                                env=python_env())
        for p in self.mesh.pods if wait else []:
            wait_port(p.ip, 8080)
        return proc

    def start_extra_apps(self, specs: list[str], name: str = "extra-apps") -> Proc:
        """Upstreams outside the mesh layout (no sidecar): HTTP `svc:ver@ip:port[/pod]` or TCP
        `tcp:svc:ver@ip:port[/pod]` specs, as `pilot.testing.apps` takes them."""
        proc = self.group.start(name, [sys.executable, "-m", "pilot.testing.apps", *specs], env=python_env())
        for spec in specs:
            ip, _, port = spec.partition("@")[2].partition("/")[0].rpartition(":")
            wait_port(ip, int(port))
        return proc

    def start_envoy(self, pod: PodSpec, log_level: str = "warn") -> Proc:
        xds = [f"127.0.0.1:{p}" for p in (self.xds_port, *self.replica_xds_ports)]
        bs = bootstrap(pod.node_id, xds_address=xds, admin_address=f"{pod.admin}:15000",
                       delta=self.delta, token=self.proxy_token(pod), labels=pod.labels,
                       service_cluster=f"{pod.service}.{pod.namespace}",
                       xds_root_cert=self._xds_trust().get("xds_root_cert", ""),
                       xds_san=self._xds_trust().get("xds_san", ""))
        path = self.group.workdir / f"envoy-{pod.name}.yaml"
        path.write_text(yaml.safe_dump(bs))
        proc = self.group.start(f"envoy-{pod.name}", [envoy_binary(), "-c", str(path), "--concurrency", "1",
                                                      "--use-dynamic-base-id", "--log-level", log_level,
                                                      "--drain-time-s", "1"])
        self.envoys[pod.name] = proc
        return proc

    def proxy_token(self, pod: PodSpec) -> str:
        if self.ca_dir is None:
            return ""
        from pilot.security.credentials import issue_proxy_token

        return issue_proxy_token(self.ca_dir, pod.node_id, pod.sa)

    def _xds_trust(self) -> dict[str, str]:
        if not self.xds_tls or self.ca_dir is None:
            return {}
        from pilot.security.xds_tls import control_plane_spiffe_id

        return {"xds_root_cert": str((self.ca_dir / "root-cert.pem").resolve()),
                "xds_san": control_plane_spiffe_id("cluster.local")}

    def start_gateway(self, pod: PodSpec, log_level: str = "warn") -> Proc:
        """An ingress gateway Envoy: a `router~` node id, no app behind it."""
        if pod.proxy_type != "router":
            raise ValueError(f"{pod.name} is not a gateway pod (proxy_type {pod.proxy_type!r})")
        return self.start_envoy(pod, log_level)

    @property
    def proxies(self) -> list[PodSpec]:
        return [*self.mesh.pods, *self.mesh.gateways]

    def start_all(self) -> None:
        self.start_control_plane()
        self.start_apps()
        for pod in self.mesh.pods:
            self.start_envoy(pod)
        for gw in self.mesh.gateways:
            self.start_gateway(gw)
        for pod in self.proxies:
            wait_until(lambda p=pod: http_get(f"http://{p.admin}:15000/ready")[0] == 200, 20,
                       what=f"envoy {pod.name} ready")
        self.wait_synced()

    def stop(self) -> None:
        self.group.stop_all()

    @contextmanager
    def running(self) -> Iterator[MeshRunner]:
        """`start_all()`, then stop every process; prints the post-mortem (logs, syncz) if anything fails."""
        try:
            self.start_all()
            yield self
        except BaseException:
            print(self.report())
            raise
        finally:
            self.stop()

    # ---- observing -----------------------------------------------------------------------------
    def http(self, path: str) -> tuple[int, bytes]:
        return http_get(f"http://127.0.0.1:{self.http_port}{path}")

    def syncz(self) -> list[dict]:
        return list(json.loads(self.http("/debug/syncz")[1]))

    def all_synced(self) -> bool:
        status = {s["proxy"]: s for s in self.syncz()}
        for pod in self.proxies:
            entry = status.get(pod.node_id)
            if entry is None:
                return False
            for t in entry["types"].values():
                if t["status"] not in ("SYNCED", "NOT_SENT"):
                    return False
        return True

    def wait_synced(self, timeout: float = 20) -> None:
        wait_until(self.all_synced, timeout, what="every proxy SYNCED in /debug/syncz")

    def envoy_stat(self, pod: PodSpec, suffix: str) -> int:
        _, body = http_get(f"http://{pod.admin}:15000/stats?filter={suffix}")
        total = 0
        for line in body.decode().splitlines():
            name, _, value = line.partition(": ")
            if name.endswith(suffix) and value.strip().isdigit():
                total += int(value)
        return total

    def report(self) -> str:
        try:
            sync = json.dumps(self.syncz(), indent=1)
        except Exception as exc:
            sync = f"(syncz unavailable: {exc})"
        return self.group.report() + "\n--- /debug/syncz ---\n" + sync


class MeshClient:
    """An app's view: HTTP over keep-alive to its own sidecar's egress listener."""

    def __init__(self, pod: PodSpec, port: int = SERVICE_PORT, timeout: float = 10.0) -> None:
        self.pod = pod
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, host: str, path: str = "/", headers: dict[str, str] | None = None,
                method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.pod.bind, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, headers={"host": host, **(headers or {})})
                resp = self.conn.getresponse()
                body = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def versions(self, host: str, n: int, headers: dict[str, str] | None = None) -> Counter[str]:
        seen: Counter[str] = Counter()
        for _ in range(n):
            status, _h, body = self.request(host, "/", headers)
            seen[json.loads(body)["version"] if status == 200 else f"HTTP {status}"] += 1
        return seen

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
