"""ADS at scale: `pilot serve` (a separate process) against N simulated Envoy ADS clients.

Run: .venv/bin/python -m bench.ads_scale --services 1000 --pods-per-service 20 --namespaces 20 \
        --proxies 2000 [--delta] [--client-procs 2] [--pilot-root DIR]

Generates a Sidecar-scoped mesh (pilot.testing.scale_mesh), starts `pilot serve --config` on it, connects
N clients that request and ACK like Envoy (CDS wildcard -> EDS by name -> LDS -> RDS), then makes one
endpoint change (a pod added to a service) and one route change (a VirtualService's weights), each by
rewriting one file. It reports the time until all N ACKed, convergence p50/p99 per change (until the
last response a reached client got), which clients were reached against those whose config depends
on the change, failed streams, server CPU seconds, server peak RSS and bytes per proxy.
`--pilot-root` runs the server from another checkout (say a worktree of an older commit) to compare.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.ads_load_client import ClientLog, worker
from pilot.testing.scale_mesh import ScaleMesh

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, config: Path, log: Path, pilot_root: Path) -> None:
        self.xds_port, self.http_port = _free_port(), _free_port()
        env = {**os.environ, "PYTHONPATH": str(pilot_root)}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pilot", "serve", "--config", str(config),
             "--xds-address", f"127.0.0.1:{self.xds_port}", "--http-address", f"127.0.0.1:{self.http_port}"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=pilot_root, start_new_session=True)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=30) as r:
            return bytes(r.read())

    def wait_ready(self, timeout: float = 600) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"pilot serve exited with {self.proc.returncode}; see its log")
            try:
                if self.get("/ready").startswith(b"ready"):
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("pilot serve did not become ready")

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.get("/metrics").decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Clients:
    """N clients split over worker processes."""

    def __init__(self, target: str, node_ids: list[str], delta: bool, procs: int) -> None:
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.workers = []
        for k in range(procs):
            parent, child = ctx.Pipe()
            w = ctx.Process(target=worker, args=(target, node_ids[k::procs], delta, child), daemon=True)
            w.start()
            self.pipes.append(parent)
            self.workers.append(w)

    def logs(self) -> list[ClientLog]:
        for p in self.pipes:
            p.send("logs")
        return [log for p in self.pipes for log in p.recv()]

    def stop(self) -> None:
        for p in self.pipes:
            p.send("stop")
        for p, w in zip(self.pipes, self.workers, strict=True):
            if p.poll(10):
                p.recv()
            w.join(5)
            if w.is_alive():
                w.kill()


def _wait_synced(clients: Clients, n: int, timeout: float) -> list[ClientLog]:
    deadline = time.monotonic() + timeout
    while True:
        logs = clients.logs()
        done = sum(1 for c in logs if c.synced)
        failed = sum(1 for c in logs if c.failed)
        if done + failed >= n or time.monotonic() > deadline:
            return logs
        time.sleep(0.25)


def _after(t0: float, quiet: float, timeout: float, clients: Clients) -> list[ClientLog]:
    """Logs once some client got a response and then none got anything for `quiet` seconds (or
    `timeout` passed)."""
    deadline = t0 + timeout
    while True:
        time.sleep(0.25)
        logs = clients.logs()
        last = max((t for c in logs for t, _, _ in c.responses if t >= t0), default=None)
        now = time.monotonic()
        if (last is not None and now - last >= quiet) or now > deadline:
            return logs


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def _change_report(logs: list[ClientLog], t0: float, expected: set[str]) -> dict[str, Any]:
    reached: dict[str, float] = {}
    types: dict[str, int] = {}
    for c in logs:
        after = [(t, ty) for t, ty, _ in c.responses if t >= t0]
        if after:
            reached[c.node_id] = max(t for t, _ in after) - t0
            for _, ty in after:
                types[ty] = types.get(ty, 0) + 1
    conv = [reached[n] for n in reached]
    return {"expected": len(expected), "reached": len(reached),
            "reached_expected": len(set(reached) & expected), "reached_unexpected": len(set(reached) - expected),
            "p50_s": _percentile(conv, 50), "p99_s": _percentile(conv, 99), "max_s": max(conv, default=0.0),
            "responses_by_type": dict(sorted(types.items()))}


def run(a: argparse.Namespace) -> dict[str, Any]:
    mesh = ScaleMesh(a.services, a.pods_per_service, a.namespaces, a.proxies)
    with tempfile.TemporaryDirectory(prefix="meshpilot-scale-") as tmp:
        root = Path(tmp) / "mesh"
        t = time.monotonic()
        mesh.write(root)
        gen_s = time.monotonic() - t
        server = Server(root, Path(a.server_log), Path(a.pilot_root).resolve())
        clients = None
        try:
            ready_s = server.wait_ready()
            cpu_ready = _proc_cpu_seconds(server.proc.pid)
            node_ids = [p.node_id for p in mesh.proxied_pods()]
            t0 = time.monotonic()
            clients = Clients(f"127.0.0.1:{server.xds_port}", node_ids, a.delta, a.client_procs)
            logs = _wait_synced(clients, len(node_ids), a.sync_timeout)
            synced = [c for c in logs if c.synced]
            sync_s = max((c.synced for c in synced), default=t0) - t0
            cpu_synced = _proc_cpu_seconds(server.proc.pid)
            out: dict[str, Any] = {
                "services": a.services, "endpoints": a.services * a.pods_per_service, "namespaces": a.namespaces,
                "proxies": len(node_ids), "mode": "delta" if a.delta else "sotw", "mesh_write_s": round(gen_s, 2),
                "server_ready_s": round(ready_s, 2), "all_synced_s": round(sync_s, 2),
                "synced": len(synced), "failed_streams": sum(1 for c in logs if c.failed),
                "failed_codes": sorted({c.failed for c in logs if c.failed}),
                "server_cpu_startup_s": round(cpu_ready, 2), "server_cpu_sync_s": round(cpu_synced - cpu_ready, 2),
                "bytes_per_proxy": int(sum(c.initial_bytes for c in synced) / max(1, len(synced))),
            }
            time.sleep(a.settle)
            # One endpoint change: a pod added to service 0 (its namespace's proxies depend on it).
            ns0 = mesh.namespace_of(0)
            expected = {p.node_id for p in mesh.proxies_in_namespace(ns0)}
            t_change = time.monotonic()
            mesh.service_file(root, 0).write_text(_dump(mesh.service_documents(0, extra_pods=1)))
            logs = _after(t_change, a.quiet, a.change_timeout, clients)
            out["endpoint_change"] = _change_report(logs, t_change, expected)
            # One route change: service 1's VirtualService to 50/50 (another namespace when K > 1).
            ns1 = mesh.namespace_of(1)
            expected = {p.node_id for p in mesh.proxies_in_namespace(ns1)}
            t_change = time.monotonic()
            mesh.routing_file(root, 1).write_text(_dump(mesh.routing_documents(1, (50, 50))))
            logs = _after(t_change, a.quiet, a.change_timeout, clients)
            out["route_change"] = _change_report(logs, t_change, expected)
            out["failed_streams"] = sum(1 for c in logs if c.failed)
            out["server_cpu_total_s"] = round(_proc_cpu_seconds(server.proc.pid), 2)
            out["server_peak_rss_mb"] = round(_proc_peak_rss_mb(server.proc.pid), 1)
            try:
                metrics = server.metrics()
            except OSError as exc:  # an overloaded server may not answer in 30 s; keep what was measured
                metrics = {}
                out["server_metrics_error"] = str(exc)
            out["server_refused_or_cancelled"] = {k: v for k, v in metrics.items()
                                                  if ("refused" in k or "cancel" in k) and v}
            return out
        finally:
            if clients is not None:
                clients.stop()
            server.stop()


def _dump(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--pods-per-service", type=int, default=5)
    ap.add_argument("--namespaces", type=int, default=5)
    ap.add_argument("--proxies", type=int, default=200)
    ap.add_argument("--delta", action="store_true", help="delta ADS instead of state of the world")
    ap.add_argument("--client-procs", type=int, default=2, help="worker processes driving the clients")
    ap.add_argument("--sync-timeout", type=float, default=120.0)
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait after the sync")
    ap.add_argument("--quiet", type=float, default=2.0, help="a change has converged after this long quiet")
    ap.add_argument("--change-timeout", type=float, default=60.0, help="give up waiting for a change after")
    ap.add_argument("--pilot-root", default=str(REPO), help="checkout whose pilot package serves")
    ap.add_argument("--server-log", default=os.path.join(tempfile.gettempdir(), "meshpilot-ads-scale.log"))
    ap.add_argument("-o", "--output", help="also write the JSON result here")
    return ap.parse_args(argv)


def main() -> None:
    a = parse_args()
    result = run(a)
    text = json.dumps(result, indent=2)
    print(text)
    if a.output:
        Path(a.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
