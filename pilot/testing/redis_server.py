"""A throwaway redis-server on a free loopback port for tests (installed by `.ci/run`)."""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator

from pilot.testing.processes import Proc, ProcessGroup, free_port, wait_until


@contextlib.contextmanager
def redis_server(host: str = "127.0.0.1") -> Iterator[str]:
    """A redis-server for the duration of the block (stopped by PID); yields its redis:// URL.
    Fails loudly when Redis is not installed: the tests that need it must not silently skip."""
    if not redis_available():
        raise RuntimeError("redis-server is not installed (.ci/run installs it: apt-get install -y redis-server)")
    group = ProcessGroup()
    try:
        _proc, url = start_redis(group, host)
        yield url
    finally:
        group.stop_all()


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def start_redis(group: ProcessGroup, host: str = "127.0.0.1") -> tuple[Proc, str]:
    """Start redis-server without persistence; returns the process and its redis:// URL."""
    port = free_port(host)
    binary = shutil.which("redis-server") or "redis-server"
    proc = group.start(f"redis-{port}", [binary, "--bind", host, "--port", str(port), "--save", "",
                                         "--appendonly", "no", "--dir", str(group.workdir)])
    wait_until(lambda: _answers_ping(host, port), 10, what=f"redis-server on {host}:{port}")
    return proc, f"redis://{host}:{port}/0"


def _answers_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
