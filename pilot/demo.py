"""`pilot demo`: the bundled Bookinfo mesh with a real control plane, real Envoys and tiny apps on
loopback, and a live view of which version answered. Edit policies/bookinfo/*.yaml while it runs.

Every process it starts is stopped on exit, Ctrl-C, SIGTERM and SIGHUP (pilot/demo_lifecycle.py), and
its temp dir removed; it refuses to start on addresses something else holds (pilot/demo_startup.py).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from pilot.demo_lifecycle import DemoProcesses, SignalGuard, Stop, exit_code
from pilot.demo_startup import DemoError, died, start_mesh
from pilot.demo_view import Flow, LiveOutput, OutputGone, PlainOutput, finding_lines, proxy_states
from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.testing.runner import REPO_ROOT, MeshClient, MeshRunner

DEMO_BLOCK = (127, 10, 0)  # matches policies/bookinfo/mesh.yaml
FLOWS = [("reviews", {}), ("reviews", {"end-user": "jason"}), ("ratings", {}), ("details", {})]
POLL_S = 1.0  # control plane status and, off a terminal, one line of output


def bundled_config() -> Path:
    path = REPO_ROOT / "policies" / "bookinfo"
    if not path.is_dir():
        raise DemoError(f"bundled mesh not found at {path}; pass --config DIR")
    return path


def block_of(config_dir: Path) -> tuple[int, int, int]:
    """The loopback block the config lays Bookinfo out on (productpage-v1-0's podIP), so that a copy of
    the mesh on other addresses runs too; the bundled one is 127.10.0.x."""
    for path in sorted([*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")]):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "Pod" and \
                    (doc.get("metadata") or {}).get("name") == "productpage-v1-0":
                octets = str((doc.get("status") or {}).get("podIP", "")).split(".")
                if len(octets) == 4 and all(o.isdigit() for o in octets):
                    return int(octets[0]), int(octets[1]), int(octets[2])
    return DEMO_BLOCK


def _poll(runner: MeshRunner) -> tuple[dict[str, dict[str, str]], list[str]]:
    try:
        states = proxy_states(runner.syncz())
        configz: dict[str, Any] = json.loads(runner.http("/debug/configz")[1])
    except Exception as exc:  # shown, not fatal: the loop notices a dead control plane itself
        return {}, [f"control plane unavailable: {exc}"]
    return states, finding_lines(configz, runner.config_dir)


class Every:
    """A period that does not drift, and skips (rather than bunches) ticks missed while busy."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.next = time.monotonic() + period

    def due(self) -> bool:
        now = time.monotonic()
        if now < self.next:
            return False
        self.next = max(self.next + self.period, now)
        return True


def _traffic(runner: MeshRunner, group: DemoProcesses, out: PlainOutput, duration: float, rate: float) -> None:
    mesh = runner.mesh
    flows = [Flow(svc, tuple(sorted(p.version for p in mesh.pods if p.service == svc)), dict(h))
             for svc, h in FLOWS]
    client = MeshClient(mesh.pod("productpage"), timeout=2.0)
    started = time.monotonic()
    pace, poll, show = Every(len(flows) / rate), Every(POLL_S), Every(out.period)
    states, findings = _poll(runner)
    while not duration or time.monotonic() - started < duration:
        for flow in flows:
            try:
                status, _h, body = client.request(flow.service, "/", flow.headers)
                ok = status == 200
                flow.record(json.loads(body)["version"] if ok else f"HTTP {status}", ok)
            except Exception as exc:
                flow.record(type(exc).__name__, False)
        if poll.due():
            dead = group.dead()
            if dead:
                raise DemoError(died(dead[0]))
            states, findings = _poll(runner)
        if show.due():
            out.show(flows, states, findings, time.monotonic() - started, len(mesh.pods))
        time.sleep(max(0.0, pace.next - time.monotonic()))
        pace.due()


class DemoRun:
    """What a run has started, for a clean-up that may be reached twice (it is idempotent). `stops` end
    what the demo runs in its own process (threads that start processes) before the processes go."""

    group: DemoProcesses | None = None
    out: PlainOutput | None = None

    def __init__(self) -> None:
        self.stops: list[Callable[[], None]] = []

    def clean_up(self, guard: SignalGuard) -> None:
        guard.stopping()
        while self.stops:
            self.stops.pop()()
        if self.out is not None:
            self.out.close()
            self.out = None
        if self.group is not None:
            self.group.cleanup()
            self.group = None
            _say("stopped every process the demo started", sys.stdout)


Body = Callable[[DemoRun, SignalGuard], int]


def run_demo(config: str = "", duration: float = 0, rate: float = 200) -> int:
    return run_with(partial(_bookinfo, config=config, duration=duration, rate=rate))


def run_with(body: Body) -> int:
    """Run a demo `body` under the signal guard: one-line errors, exit codes, and everything it started
    stopped however it ends."""
    with SignalGuard() as guard:
        run = DemoRun()
        try:
            code = _run(run, guard, body)
        except Stop as stop:  # the (only) Stop came as _run was finishing, before its clean-up began
            code = exit_code(stop.signum)
        run.clean_up(guard)
        if guard.received is not None and not code:
            code = exit_code(guard.received)
        return code


def _bookinfo(run: DemoRun, guard: SignalGuard, config: str, duration: float, rate: float) -> int:
    config_dir = (Path(config) if config else bundled_config()).resolve()
    if not config_dir.is_dir():
        raise DemoError(f"--config {config}: not a directory")
    mesh = LoopbackMesh.build(BOOKINFO, block=block_of(config_dir))
    with guard.deferred():
        run.group = group = DemoProcesses(guard=guard)
    runner = MeshRunner(config_dir, mesh, group=group)
    footer = f"Edit {config_dir}/*.yaml to change routing; Ctrl-C stops."
    run.out = out = LiveOutput(footer) if sys.stdout.isatty() else PlainOutput()
    out.note(f"meshpilot demo: control plane + {len(mesh.pods)} Envoy sidecars on loopback "
             f"{'.'.join(map(str, mesh.pods[0].block))}.x (logs in {group.workdir}, removed on exit)")
    start_mesh(runner, group)
    out.note(f"mesh up, every process listening on its own addresses. {footer}")
    _traffic(runner, group, out, duration, rate)
    return 0


def _run(run: DemoRun, guard: SignalGuard, body: Body) -> int:
    try:
        return body(run, guard)
    except Stop as stop:
        return exit_code(stop.signum)
    except OutputGone:
        return 128 + signal.SIGPIPE
    except DemoError as err:
        _say(f"pilot demo: {err}")
        return 1
    except Exception as exc:  # a bug: still one line, and everything stopped
        _say(f"pilot demo: unexpected {type(exc).__name__}: {exc}")
        return 1
    finally:
        run.clean_up(guard)


def _say(text: str, stream: Any = None) -> None:
    with contextlib.suppress(OSError):  # a closed terminal must not turn clean-up into a traceback
        print(text, file=stream or sys.stderr, flush=True)
