"""Run `pilot demo` as a user would (its own process, stdout to a file) and find what it leaves behind.

Leftovers are found without trusting the demo: the children seen while it ran (by PID and start time,
so a reused PID does not count) and any live process whose command line or environment names the
demo's temp dir or config dir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pilot.testing.mesh import BOOKINFO, LoopbackMesh, random_block
from pilot.testing.runner import REPO_ROOT, MeshClient, python_env

LINE = re.compile(r"^\[\s*[\d.]+s\] reviews: v1 (\d+)% v2 (\d+)% v3 (\d+)% err (\d+)%.*?"
                  r"\| reviews \(end-user: jason\): v1 (\d+)% v2 (\d+)% v3 (\d+)% err (\d+)%", re.M)


def demo_config(tmp_path: Path) -> tuple[Path, LoopbackMesh]:
    """A copy of policies/bookinfo with the mesh on this test's own loopback block."""
    mesh = LoopbackMesh.build(BOOKINFO)
    cfg = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "policies" / "bookinfo", cfg)
    (cfg / "mesh.yaml").write_text(mesh.yaml())
    return cfg, mesh


def knative_demo_config(tmp_path: Path) -> tuple[Path, tuple[int, int, int]]:
    """A copy of policies/knative on this test's own loopback block: 127.10.40-42.x become a.b.c..c+2.x."""
    a, b, c = block = random_block()
    cfg = tmp_path / "knative"
    cfg.mkdir()
    for path in (REPO_ROOT / "policies" / "knative").glob("*.yaml"):
        text = path.read_text()
        for i in range(3):
            text = text.replace(f"127.10.{40 + i}.", f"{a}.{b}.{c + i}.")
        (cfg / path.name).write_text(text)
    return cfg, block


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, None if gone."""
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return rest[0], int(rest[1]), int(rest[19])


def alive(pid: int, started: int | None = None) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z" and (started is None or st[2] == started)


@dataclass
class Demo:
    cfg: Path
    out_path: Path
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    children: dict[int, int] = field(default_factory=dict)  # pid -> start time
    temp_dir: str = ""

    def start(self) -> Demo:
        self.started = time.monotonic()
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pilot", "demo", "--config", str(self.cfg), *self.args],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, **python_env()}, cwd=REPO_ROOT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def workdir(self) -> str:
        """The demo's temp dir: where its Envoys' bootstraps were, else what it printed."""
        m = re.search(r"logs in (\S+?),", self.output())
        return self.temp_dir or (m.group(1) if m else "")

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pattern.search(self.output())
            if m:
                return m
            assert self.proc is not None and self.proc.poll() is None, f"demo exited:\n{self.output()}"
            time.sleep(0.05)
        raise AssertionError(f"no {pattern.pattern!r} within {timeout}s:\n{self.output()[-3000:]}")

    def wait_answering(self, mesh: LoopbackMesh, timeout: float) -> None:
        """Until reviews answers through productpage's sidecar, as an app of the mesh would call it."""
        client = MeshClient(mesh.pod("productpage"), timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, f"demo exited:\n{self.output()}"
                try:
                    if client.request("reviews")[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.1)
        finally:
            client.close()
        raise AssertionError(f"the demo's mesh did not answer within {timeout}s:\n{self.output()[-3000:]}")

    def record_children(self) -> None:
        for entry in Path("/proc").iterdir():
            st = _stat(int(entry.name)) if entry.name.isdigit() else None
            if st is not None and st[1] == self.pid:
                self.children[int(entry.name)] = st[2]
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                if "-c" in cmdline and "/envoy-" in cmdline[cmdline.index("-c") + 1]:
                    self.temp_dir = cmdline[cmdline.index("-c") + 1].rpartition("/envoy-")[0]

    def signal(self, sig: int, timeout: float = 20) -> int:
        assert self.proc is not None
        os.kill(self.pid, sig)
        return self.proc.wait(timeout)

    def leftovers(self) -> list[str]:
        marks = [m for m in (self.workdir(), str(self.cfg)) if m]
        found = {pid: "child of the demo" for pid, t in self.children.items() if alive(pid, t)}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid() or not alive(int(entry.name)):
                continue
            try:
                text = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(m.encode() in text for m in marks):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        return [f"pid {pid}: {what}" for pid, what in sorted(found.items())]

    def kill_everything(self) -> None:
        """Teardown: whatever the demo left, by PID (each child leads its own process group)."""
        if self.proc is not None and self.proc.poll() is None:
            self.record_children()
            self.proc.kill()
            self.proc.wait(5)
        for line in self.leftovers():
            pid = int(line.split()[1].rstrip(":"))
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
