"""`pilot demo --knative`: Knative Serving on the mesh, live. The control plane runs with the activator on
a copy of the bundled Knative example (pilot/demo_knative_setup.py), a client sidecar sends steady
traffic to the Service's URL, and the demo plays a script while the view shows each revision's share:

1. traffic on the first revision;
2. the demo edits the Service's template (a new revision) with a rollout duration, and the share moves
   to it step by step (docs/knative.md, "Gradual rollout");
3. the old revision is idle: the control plane hands its endpoints to the activator, and the deactivation
   hook stops its app (docs/activator.md);
4. a request to the old revision's tag URL cold-starts it through the activator, which reports how long
   that took.

Revision apps are started and stopped by a fake kubelet in the demo process, asked by the control
plane's hooks (pilot/testing/knative_lab.py). Start-up checks, signals and clean-up are the Bookinfo
demo's (pilot/demo.py, pilot/demo_lifecycle.py, pilot/demo_startup.py).
"""

from __future__ import annotations

import errno
import json
import sys
import threading
import time
from functools import partial
from pathlib import Path

import yaml

from pilot import demo_ports
from pilot.demo import POLL_S, DemoRun, Every, run_with
from pilot.demo_knative_setup import KnativeLayout, bundled_knative, copy_for_demo, read_layout, write_atomically
from pilot.demo_knative_view import KnativePlain, knative_output
from pilot.demo_knative_watch import Observer, shares_text
from pilot.demo_lifecycle import DemoProcesses, SignalGuard
from pilot.demo_startup import DemoError, check_free, died, envoy_ready, wait_for, wait_owned
from pilot.demo_view import Flow, finding_lines
from pilot.testing.knative_lab import APP_PORT, FakeKubelet, hook_command
from pilot.testing.mesh import LoopbackMesh
from pilot.testing.processes import Proc, free_port
from pilot.testing.runner import MeshClient, MeshRunner

ROUTE_PORT = 80  # Knative routes are on port 80: the client's sidecar listens there
IDLE_S = 4.0  # --scale-to-zero-after
FIRST_S = 3.0  # seconds of traffic on the first revision before the edit
COLD_AFTER_S = 1.5  # seconds after the old revision scaled to zero until the request that wakes it


def run_knative_demo(config: str = "", duration: float = 0, rate: float = 100, rollout_duration: int = 10) -> int:
    return run_with(partial(_knative, config=config, duration=duration, rate=rate, rollout=rollout_duration))


def _knative(run: DemoRun, guard: SignalGuard, config: str, duration: float, rate: float, rollout: int) -> int:
    src = (Path(config) if config else bundled_knative()).resolve()
    if not src.is_dir():
        raise DemoError(f"--config {config}: not a directory")
    layout = read_layout(src)
    with guard.deferred():
        run.group = group = DemoProcesses(guard=guard)
    cfg = group.workdir / "config"
    copy_for_demo(src, cfg, layout)
    requests = group.workdir / "kubelet"
    activator = ("127.0.0.1", free_port())
    runner = MeshRunner(cfg, LoopbackMesh(pods=[layout.client]), group=group, extra_serve_args=[
        "--activator", demo_ports.fmt(activator), "--activation-hook", hook_command(requests, "activate"),
        "--deactivation-hook", hook_command(requests, "deactivate"), "--scale-to-zero-after", f"{IDLE_S:g}s"])
    kubelet = FakeKubelet(cfg, requests, [layout.old, layout.new], group)
    run.stops.append(partial(kubelet.stop, 15))  # it may be starting an app: let it finish, then stop them all
    footer = f"Edit {cfg}/{layout.service_file} to change traffic; Ctrl-C stops."
    run.out = out = knative_output(sys.stdout.isatty(), footer, f"{layout.client.service} → {layout.host}")
    out.note(f"meshpilot demo --knative: control plane with the activator + the {layout.client.name} sidecar on "
             f"loopback, Knative Service {layout.host} (logs in {group.workdir}, removed on exit)")
    _start(runner, group, kubelet, layout, activator)
    out.note(f"mesh up: {layout.old.name} serving, every process listening on its own addresses. {footer}")
    Script(runner, group, kubelet, layout, out, rollout).play(duration, rate)
    return 0


def _start(runner: MeshRunner, group: DemoProcesses, kubelet: FakeKubelet, layout: KnativeLayout,
           activator: tuple[str, int]) -> None:
    client = layout.client
    route = (client.bind, ROUTE_PORT)
    exc = demo_ports.probe(route)
    if exc is not None and exc.errno in (errno.EACCES, errno.EPERM):
        raise DemoError(f"cannot listen on {demo_ports.fmt(route)}: Knative routes are on port 80; run as root "
                        "or with sysctl net.ipv4.ip_unprivileged_port_start=80")
    admin = (client.admin, 15000)
    check_free([route, admin, activator, *((r.ip, APP_PORT) for r in (layout.old, layout.new))])
    kubelet.scale_up(layout.old)  # the first revision starts with a pod, as a new Knative revision does
    kubelet.start()
    cp = runner.start_control_plane(wait=False)
    wait_for(group, lambda: runner.http("/ready")[0] == 200, 30, "the control plane to be ready")
    envoy = runner.start_envoy(client)
    wait_for(group, partial(envoy_ready, client), 30, f"envoy {client.name} to be ready")
    wait_for(group, runner.all_synced, 30, "the sidecar SYNCED in /debug/syncz")
    probe = MeshClient(client, port=ROUTE_PORT, timeout=2.0)
    wait_for(group, lambda: probe.request(layout.host)[0] == 200, 30, f"{layout.host} to answer")
    probe.close()
    wait_owned(group, cp, [("127.0.0.1", runner.xds_port), ("127.0.0.1", runner.http_port), activator])
    wait_owned(group, envoy, [route, admin])
    wait_owned(group, kubelet.apps[layout.old.name], [(layout.old.ip, APP_PORT)])


class Script:
    """Steady traffic from the client, and the four steps above, each started by what the last one did."""

    def __init__(self, runner: MeshRunner, group: DemoProcesses, kubelet: FakeKubelet, layout: KnativeLayout,
                 out: KnativePlain, rollout: int) -> None:
        self.runner, self.group, self.kubelet, self.layout, self.out = runner, group, kubelet, layout, out
        self.rollout = rollout
        svc = layout.service["metadata"]["name"]
        self.flow = Flow(svc, (layout.old.name, layout.new.name))
        self.tag_flow = Flow(f"{layout.tag}-{svc}", (layout.old.name,))
        self.watch = Observer(layout.namespace, svc, IDLE_S)
        self.step = "first"
        self.step_since = 0.0
        self.findings: list[str] = []
        self.sent = self.failed = 0
        self.count_lock = threading.Lock()  # the cold-start request is sent from a thread of its own
        self.waker: threading.Thread | None = None
        self.woken = ""  # how the cold-start request ended

    def play(self, duration: float, rate: float) -> None:
        client = MeshClient(self.layout.client, port=ROUTE_PORT, timeout=5.0)
        started = time.monotonic()
        pace, poll, show = Every(1 / rate), Every(POLL_S), Every(self.out.period)
        self._observe(0.0, announce=False)
        try:
            while not duration or time.monotonic() - started < duration:
                self._request(client, self.flow, self.layout.host)
                elapsed = time.monotonic() - started
                if poll.due():
                    dead = self._crashed()
                    if dead:
                        raise DemoError(died(dead[0]))
                    self._observe(elapsed)
                    self._advance(elapsed)
                if show.due():
                    flows = [self.flow, *([self.tag_flow] if self.tag_flow.split()[0] else [])]
                    self.out.frame(flows, shares_text(self.watch.route), self.findings, elapsed)
                time.sleep(max(0.0, pace.next - time.monotonic()))
                pace.due()
        finally:
            client.close()
        if self.waker is not None:
            self.waker.join(15)
        self.out.note(f"requests: {self.sent} sent, {self.failed} failed")

    def _crashed(self) -> list[Proc]:
        """Processes that died on their own (not a revision app the deactivation hook stopped)."""
        apps = {f"app-{r.name}" for r in self.kubelet.revisions}
        running = [id(p) for p in self.kubelet.apps.values()]
        return [p for p in self.group.dead() if p.name not in apps or id(p) in running]

    def _request(self, client: MeshClient, flow: Flow, host: str) -> str:
        try:
            status, _h, body = client.request(host)
            ok = status == 200
            outcome = json.loads(body)["version"] if ok else f"HTTP {status}"
        except Exception as exc:
            ok, outcome = False, type(exc).__name__
        flow.record(outcome, ok)
        with self.count_lock:
            self.sent += 1
            self.failed += not ok
        return f"answered by {outcome}" if ok else f"failed: {outcome}"

    def _observe(self, elapsed: float, announce: bool = True) -> None:
        try:
            report = json.loads(self.runner.http("/debug/knative")[1])
            metrics = self.runner.http("/metrics")[1].decode()
            self.findings = finding_lines(json.loads(self.runner.http("/debug/configz")[1]), self.runner.config_dir)
        except Exception as exc:  # shown, not fatal: the loop notices a dead control plane itself
            self.out.event(f"control plane unavailable: {exc}", elapsed)
            return
        events = self.watch.update(report, metrics, list(self.kubelet.deactivations))
        for text in events if announce else []:
            self.out.event(text, elapsed)

    def _advance(self, elapsed: float) -> None:
        old, new, w = self.layout.old.name, self.layout.new.name, self.watch
        if self.step == "first" and elapsed >= FIRST_S:
            self._edit(elapsed)
        elif self.step == "rollout" and w.route == {new: 100}:
            self._next("idle", elapsed, f"rollout done: {new} has 100 %; {old} gets no traffic now")
        elif self.step == "idle" and old in w.scaled_to_zero:
            self._next("scaled", elapsed)
        elif self.step == "scaled" and elapsed - self.step_since >= COLD_AFTER_S:
            self._next("cold", elapsed, f"a request to {self.layout.tag_host} (tag {self.layout.tag} → {old}, "
                                        "no pod): the activator holds it and calls the activation hook")
            self.waker = threading.Thread(target=self._wake, name="cold-start request", daemon=True)
            self.waker.start()
        elif self.step == "cold" and self.woken:
            self._next("done", elapsed, self.woken)

    def _next(self, step: str, elapsed: float, event: str = "") -> None:
        self.step, self.step_since = step, elapsed
        if event:
            self.out.event(event, elapsed)

    def _edit(self, elapsed: float) -> None:
        doc = self.layout.rollout_service(self.rollout)
        write_atomically(self.runner.config_dir / self.layout.service_file, yaml.safe_dump(doc, sort_keys=False))
        self.kubelet.ask(self.layout.new, "activate")  # Knative's controller scales the new revision to 1
        over = f"rollout-duration {self.rollout}s" if self.rollout else "no rollout-duration: at once"
        self._next("rollout", elapsed, f"edited {self.layout.service_file}: new template → revision "
                                       f"{self.layout.new.name} ({over}); its pod starts")

    def _wake(self) -> None:
        client = MeshClient(self.layout.client, port=ROUTE_PORT, timeout=15.0)
        sent = time.monotonic()
        try:
            result = self._request(client, self.tag_flow, self.layout.tag_host)
        finally:
            client.close()
        self.woken = f"{self.layout.tag_host} {result} after {time.monotonic() - sent:.2f} s"
