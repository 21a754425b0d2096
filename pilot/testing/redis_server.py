"""A throwaway redis-server on a free loopback port for tests (installed by `.ci/run`)."""

from __future__ import annotations

import shutil
import socket

from pilot.testing.processes import Proc, ProcessGroup, free_port, wait_until


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
