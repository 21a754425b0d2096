"""A lab's state file (/run/meshpilot/<prefix>.json): what `pilot mesh down` needs to finish a lab whose
owner died: its namespaces, PIDs and work dir. Only names with the lab's prefix and processes carrying
its marker are ever touched, so a reused PID or another lab's namespace is safe."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from pilot.testing import netns

STATE_DIR = Path("/run/meshpilot")
MARKER_ENV = "MESHPILOT_LAB"  # every process of a lab carries its prefix in its environment


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    Path(tmp).replace(path)


def cleanup_state(state_file: Path) -> list[str]:
    """Finish a lab whose owner is gone: stop its recorded processes, delete its namespaces and files.
    Returns what was removed. Only names and PIDs the state file lists are touched."""
    state = json.loads(state_file.read_text())
    done: list[str] = []
    for pid in state.get("pids", []):
        if _pid_is_ours(pid, state["prefix"]):
            os.kill(pid, signal.SIGKILL)
            done.append(f"pid {pid}")
    for name in reversed(state.get("netns", [])):
        if name.startswith(state["prefix"]) and (netns.NETNS_RUN_DIR / name).exists():
            netns.delete_netns(name)
            done.append(f"netns {name}")
    shutil.rmtree(state["workdir"], ignore_errors=True)
    state_file.unlink(missing_ok=True)
    return done


def process_start(pid: int) -> str:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22): with the PID, it names
    one process even after the PID is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""


def _pid_is_ours(pid: int, prefix: str) -> bool:
    """A recorded PID may have been reused since: it is ours only if it carries our marker."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{MARKER_ENV}={prefix}".encode() in environ
