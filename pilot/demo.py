"""`pilot demo`: the bundled Bookinfo mesh with a real control plane, real Envoys and tiny apps on
loopback, and a live table of which version answered. Edit policies/bookinfo/*.yaml while it runs.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from pilot.testing.mesh import BOOKINFO, LoopbackMesh
from pilot.testing.runner import REPO_ROOT, MeshClient, MeshRunner

DEMO_BLOCK = (127, 10, 0)  # matches policies/bookinfo/mesh.yaml
FLOWS = [("reviews", {}), ("reviews", {"end-user": "jason"}), ("ratings", {}), ("details", {})]
WINDOW = 200


def bundled_config() -> Path:
    path = REPO_ROOT / "policies" / "bookinfo"
    if not path.is_dir():
        raise SystemExit(f"pilot demo: bundled mesh not found at {path}; pass --config DIR")
    return path


def _table(windows: dict[int, deque[str]], runner: MeshRunner, sent: int, started: float) -> Group:
    t = Table(title=f"productpage → service: who answered (last {WINDOW} requests per flow)")
    t.add_column("flow")
    t.add_column("v1", justify="right")
    t.add_column("v2", justify="right")
    t.add_column("v3", justify="right")
    t.add_column("errors", justify="right")
    for i, (svc, headers) in enumerate(FLOWS):
        counts = Counter(windows[i])
        n = max(1, len(windows[i]))
        label = svc + (" (end-user: jason)" if headers else "")
        errs = sum(v for k, v in counts.items() if not k.startswith("v"))
        t.add_row(label, *[f"{100 * counts.get(v, 0) / n:5.1f} %" for v in ("v1", "v2", "v3")],
                  f"{100 * errs / n:5.1f} %")
    s = Table(title="proxy status (control plane /debug/syncz)")
    s.add_column("proxy")
    for typ in ("cds", "eds", "lds", "rds"):
        s.add_column(typ.upper())
    try:
        for row in sorted(runner.syncz(), key=lambda r: r["proxy"]):
            s.add_row(row["proxy"].split("~")[2], *[row["types"].get(typ, {}).get("status", "-")
                                                    for typ in ("cds", "eds", "lds", "rds")])
    except Exception as exc:
        s.add_row(f"unavailable: {exc}")
    rate = sent / max(1e-6, time.monotonic() - started)
    footer = f"{sent} requests, {rate:.0f}/s. Edit {runner.config_dir}/*.yaml to change routing; Ctrl-C stops."
    return Group(t, s, footer)


def run_demo(config: str = "", duration: float = 0, rate: float = 50) -> int:
    console = Console()
    config_dir = Path(config) if config else bundled_config()
    mesh = LoopbackMesh.build(BOOKINFO, block=DEMO_BLOCK)
    runner = MeshRunner(config_dir, mesh)
    console.print(f"[bold]meshpilot demo[/]: control plane + {len(mesh.pods)} Envoy sidecars on loopback "
                  f"(logs in {runner.group.workdir})")
    try:
        runner.start_all()
        client = MeshClient(mesh.pod("productpage"))
        windows: dict[int, deque[str]] = {i: deque(maxlen=WINDOW) for i in range(len(FLOWS))}
        started = time.monotonic()
        sent = 0
        with Live(_table(windows, runner, sent, started), console=console, refresh_per_second=4) as live:
            last_draw = 0.0
            while not duration or time.monotonic() - started < duration:
                for i, (svc, headers) in enumerate(FLOWS):
                    try:
                        status, _h, body = client.request(svc, "/", headers)
                        import json

                        windows[i].append(json.loads(body)["version"] if status == 200 else f"HTTP {status}")
                    except Exception as exc:
                        windows[i].append(type(exc).__name__)
                    sent += 1
                time.sleep(max(0.0, len(FLOWS) / rate - 0.001))
                if time.monotonic() - last_draw > 0.5:
                    live.update(_table(windows, runner, sent, started))
                    last_draw = time.monotonic()
    except KeyboardInterrupt:
        pass
    except Exception:
        console.print(runner.report())
        raise
    finally:
        runner.stop()
        console.print("stopped every process the demo started")
    return 0
