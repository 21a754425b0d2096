"""Who listens where: is an address free before the demo starts, and does each started process own its ports?

A leftover demo (or anything else) on the same loopback addresses would otherwise answer in place of ours:
the new apps die with "Address already in use" in a log nobody reads, and Envoy listeners, which set
SO_REUSEPORT by default (`enable_reuse_port`, https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/
listener/v3/listener.proto), would even share the port with the old ones. Ownership is read from Linux's
/proc (net/tcp LISTEN sockets and each process's fds); elsewhere only the bind probe is done.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in include/net/tcp_states.h


def probe(address: tuple[str, int]) -> OSError | None:
    """None if `address` can be bound now, else the error. SO_REUSEADDR so that sockets of a demo that
    just ended (TIME_WAIT) do not count; a listening socket still makes the bind fail."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            return exc
    return None


def first_unavailable(addresses: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], OSError] | None:
    for address in addresses:
        exc = probe(address)
        if exc is not None:
            return address, exc
    return None


def is_in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE


def can_check_owners() -> bool:
    return (PROC / "net" / "tcp").is_file()


def listening_inodes() -> dict[tuple[str, int], set[int]]:
    """IPv4 LISTEN sockets: (ip, port) -> socket inodes (several with SO_REUSEPORT). From /proc/net/tcp, and
    from /proc/net/tcp6 for IPv4-mapped ones (gRPC listens on `[::ffff:127.0.0.1]:port` for 127.0.0.1)."""
    out: dict[tuple[str, int], set[int]] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            ip_hex, _, port_hex = fields[1].partition(":")
            ip = _ipv4(ip_hex)
            if ip is not None:
                out.setdefault((ip, int(port_hex, 16)), set()).add(int(fields[9]))
    return out


def _ipv4(hex_address: str) -> str | None:
    # The kernel prints addresses as native-endian 32-bit words.
    raw = b"".join(struct.pack("=I", int(hex_address[i:i + 8], 16)) for i in range(0, len(hex_address), 8))
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    mapped = ipaddress.IPv6Address(raw).ipv4_mapped
    return str(mapped) if mapped is not None else None


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list((PROC / str(pid) / "fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`: the leader and anything it forked."""
    pids = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state ppid pgrp ...
        rest = stat.rpartition(")")[2].split()
        if len(rest) > 2 and rest[0] != "Z" and int(rest[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def not_owned(pgid: int, addresses: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The addresses that no process of group `pgid` is listening on."""
    listening = listening_inodes()
    mine: set[int] = set()
    for pid in group_pids(pgid):
        mine |= socket_inodes(pid)
    return [a for a in addresses if not listening.get(a, set()) & mine]


def owners(address: tuple[str, int]) -> list[int]:
    """PIDs holding a LISTEN socket on `address` (for tests and error messages)."""
    inodes = listening_inodes().get(address, set())
    return [int(e.name) for e in PROC.iterdir() if e.name.isdigit() and socket_inodes(int(e.name)) & inodes]


def fmt(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"
