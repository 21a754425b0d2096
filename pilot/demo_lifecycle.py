"""Start and stop the demo's processes so that nothing outlives it.

The children run in their own sessions (so a terminal's Ctrl-C reaches only the demo, which stops them in
order); the price is that nothing else stops them: when the demo gets SIGTERM (`timeout`, `kill`) or
SIGHUP (terminal closed, `tmux kill-session`) it must stop them itself, like on Ctrl-C. Signals become a
`Stop` exception in the main thread, held back while a process is being spawned (so its PID is always
recorded) and ignored once clean-up has begun.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from pilot import demo_ports
from pilot.testing.processes import Proc, ProcessGroup

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Every child carries its demo's temp dir, so a leftover can be told from other processes (tests scan it).
MARKER_ENV = "MESHPILOT_DEMO_DIR"


class Stop(BaseException):
    """A stop signal arrived. BaseException, like KeyboardInterrupt, so `except Exception` lets it pass."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int) -> int:
    """Ctrl-C is the documented way to end the demo: 0. Other signals: the shell convention 128+N."""
    return 0 if signum == signal.SIGINT else 128 + signum


class SignalGuard:
    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = 0
        self._stopping = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if not self._deferring and not self._stopping:
            self._stopping = True  # raised once: the clean-up it triggers cannot be interrupted
            raise Stop(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a signal back until the block ends (it is raised then)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and not self._stopping and self.received is not None:
            self._stopping = True
            raise Stop(self.received)

    def stopping(self) -> None:
        """Clean-up has begun: further signals are noted, never raised into it."""
        self._stopping = True


@dataclass
class DemoProcesses(ProcessGroup):
    guard: SignalGuard | None = None

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
              cwd: str | None = None) -> Proc:
        env = {**(env or {}), MARKER_ENV: str(self.workdir)}
        # Signals reach the main thread only, so only there can one interrupt a spawn; a Stop raised at
        # the end of `deferred` in another thread (the Knative demo's kubelet) would end that thread instead.
        if self.guard is None or threading.current_thread() is not threading.main_thread():
            return super().start(name, argv, env, cwd)
        with self.guard.deferred():
            return super().start(name, argv, env, cwd)

    def dead(self) -> list[Proc]:
        return [p for p in self.procs if not p.alive()]

    def stop_all(self, grace: float = 5.0) -> None:
        """TERM every process group at once, KILL what is left after `grace` seconds, reap them all.
        Groups, not PIDs: a child's own children (same group) go too, even if the child already exited."""
        for p in self.procs:
            _killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_alive(p) for p in self.procs):
            time.sleep(0.05)
        for p in self.procs:
            if _group_alive(p):
                _killpg(p.pid, signal.SIGKILL)
            try:
                p.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self) -> None:
        self.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(p: Proc) -> bool:
    p.popen.poll()  # reap the leader so an exited one does not keep the group "alive" as a zombie
    if demo_ports.can_check_owners():  # /proc: zombies adopted by a non-reaping init do not count
        return bool(demo_ports.group_pids(p.pid))
    try:
        os.killpg(p.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
