"""Start the demo mesh and prove it is ours: every process alive and listening on its own addresses.

Readiness alone is not proof: a leftover demo on the same addresses answers /ready and HTTP just as well
(see pilot/demo_ports.py). So the addresses are probed before anything starts, each wait gives up as soon
as a process exits, and at the end each process must hold its listening sockets itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from pilot import demo_ports
from pilot.demo_lifecycle import DemoProcesses
from pilot.demo_ports import fmt
from pilot.testing.mesh import APP_PORT, SERVICE_PORT, PodSpec
from pilot.testing.processes import Proc, http_get
from pilot.testing.runner import MeshRunner

ADMIN_PORT = 15000
Address = tuple[str, int]


class DemoError(Exception):
    """A one-line reason the demo cannot run; printed as `pilot demo: <reason>`."""


def envoy_addresses(pod: PodSpec) -> list[Address]:
    """Admin (bootstrap), inbound listener on the pod IP and egress listener on the bind address."""
    return [(pod.ip, SERVICE_PORT), (pod.bind, SERVICE_PORT), (pod.admin, ADMIN_PORT)]


def demo_addresses(runner: MeshRunner) -> list[Address]:
    out = []
    for pod in runner.mesh.pods:
        out += [envoy_addresses(pod)[0], (pod.ip, APP_PORT), *envoy_addresses(pod)[1:]]
    return out


def check_free(addresses: list[Address]) -> None:
    taken = demo_ports.first_unavailable(addresses)
    if taken is None:
        return
    address, exc = taken
    if demo_ports.is_in_use(exc):
        raise DemoError(f"{fmt(address)} is already in use (another demo still running?)")
    raise DemoError(f"cannot listen on {fmt(address)}: {exc.strerror or exc}")


def start_mesh(runner: MeshRunner, group: DemoProcesses) -> None:
    check_free(demo_addresses(runner))
    cp = runner.start_control_plane(wait=False)
    wait_for(group, lambda: runner.http("/ready")[0] == 200, 30, "the control plane to be ready")
    apps = runner.start_apps(wait=False)
    owned: dict[str, tuple[Proc, list[Address]]] = {
        "control plane": (cp, [("127.0.0.1", runner.xds_port), ("127.0.0.1", runner.http_port)]),
        "apps": (apps, [(p.ip, APP_PORT) for p in runner.mesh.pods])}
    wait_owned(group, owned["apps"][0], owned["apps"][1])
    for pod in runner.mesh.pods:
        owned[f"envoy {pod.name}"] = (runner.start_envoy(pod), envoy_addresses(pod))
    for pod in runner.mesh.pods:
        wait_for(group, partial(envoy_ready, pod), 30, f"envoy {pod.name} to be ready")
    wait_for(group, runner.all_synced, 30, "every proxy SYNCED in /debug/syncz")
    for proc, addresses in owned.values():
        wait_owned(group, proc, addresses)


def envoy_ready(pod: PodSpec) -> bool:
    return http_get(f"http://{pod.admin}:{ADMIN_PORT}/ready")[0] == 200


def wait_owned(group: DemoProcesses, proc: Proc, addresses: list[Address]) -> None:
    if not demo_ports.can_check_owners():
        return
    missing: list[Address] = []

    def owns() -> bool:
        missing[:] = demo_ports.not_owned(proc.pid, addresses)
        return not missing

    try:
        wait_for(group, owns, 10, f"{proc.name} to listen on its addresses")
    except DemoError:
        check_free(missing)  # someone else holds it: say so
        raise DemoError(f"{proc.name} (pid {proc.pid}) is not listening on {fmt(missing[0])}") from None


def wait_for(group: DemoProcesses, ok: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        dead = group.dead()
        if dead:
            raise DemoError(died(dead[0]))
        try:
            if ok():
                return
        except Exception:  # not up yet: keep polling
            pass
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def died(proc: Proc) -> str:
    """`envoy-x (pid N) exited with status 1: <its last log line>`; "already in use" said plainly."""
    tail = [line for line in proc.log_tail(20).splitlines() if line.strip()]
    last = tail[-1].strip() if tail else "no output"
    if any("Address already in use" in line for line in tail):
        last = "an address it needs is already in use (another demo still running?)"
    return f"{proc.name} (pid {proc.pid}) exited with status {proc.popen.poll()}: {last}"
