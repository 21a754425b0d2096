"""Network namespaces, veth pairs and a bridge for the lab, through iproute2 and iptables.

Nothing here touches the host's own interfaces, routes or firewall: every device is created inside a
namespace the lab made (`ip -n NS link add ... peer ... netns OTHER` never puts either end in the host
namespace), and every name starts with the run's unique prefix, so clean-up deletes only ours.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

NETNS_RUN_DIR = Path("/run/netns")
NETNS_ETC_DIR = Path("/etc/netns")  # `ip netns exec NS` bind-mounts /etc/netns/NS/* over /etc/*
CLONE_NEWNET = 0x40000000
ROUTE_TYPES = frozenset({"unicast", "local", "broadcast", "multicast", "anycast", "unreachable", "blackhole",
                         "prohibit", "throw", "nat"})
T = TypeVar("T")


class NetnsError(RuntimeError):
    """A namespace operation failed (one line: the command and what it said)."""


def run(argv: Sequence[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise NetnsError(f"{' '.join(argv)}: {said[-1] if said else f'exit {done.returncode}'}")
    return done.stdout


def unique_prefix() -> str:
    """`mp` + 6 hex digits: short enough that `<prefix>v<n>` fits a 15-character interface name."""
    return f"mp{uuid.uuid4().hex[:6]}"


def unsupported_reason() -> str:
    """Why the lab cannot run here ("" when it can): root, iproute2 and iptables are needed."""
    if os.geteuid() != 0:
        return "not root"
    for tool, package in (("ip", "iproute2"), ("iptables-restore", "iptables"), ("setpriv", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install {package})"
    probe = f"{unique_prefix()}-probe"
    try:
        run(["ip", "netns", "add", probe])
        run(["ip", "netns", "exec", probe, "iptables", "-t", "nat", "-S"])
    except NetnsError as exc:
        return f"network namespaces not usable: {exc}"
    finally:
        delete_netns(probe)
    return ""


def host_collisions(*ranges: ipaddress.IPv4Network) -> list[str]:
    """Host addresses or routes (read from `ip addr` / `ip route`) that overlap the lab's ranges."""
    found: list[str] = []
    for line in run(["ip", "-o", "-4", "addr", "show"]).splitlines():
        parts = line.split()
        if "inet" in parts:
            net = ipaddress.ip_interface(parts[parts.index("inet") + 1]).network
            found += [f"{parts[1]} has {net}" for r in ranges if net.overlaps(r)]
    for line in run(["ip", "-4", "route", "show", "table", "all"]).splitlines():
        words = line.split()
        if words and words[0] in ROUTE_TYPES:
            words = words[1:]
        if not words or words[0] == "default":  # a default route is no claim on our ranges
            continue
        try:
            net = ipaddress.ip_network(words[0], strict=False)
        except ValueError:
            continue
        found += [f"route {line.strip()}" for r in ranges if net.overlaps(r)]
    return found


def add_netns(name: str) -> None:
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def delete_netns(name: str) -> None:
    """Delete one namespace of ours (its veth ends go with it) and its /etc/netns files; no error if gone."""
    if (NETNS_RUN_DIR / name).exists():
        try:
            run(["ip", "netns", "delete", name])
        except NetnsError:
            pass
    shutil.rmtree(NETNS_ETC_DIR / name, ignore_errors=True)


def add_bridge(netns: str, bridge: str, address: str) -> None:
    run(["ip", "-n", netns, "link", "add", bridge, "type", "bridge"])
    run(["ip", "-n", netns, "addr", "add", address, "dev", bridge])
    run(["ip", "-n", netns, "link", "set", bridge, "up"])


def plug(node_netns: str, bridge: str, veth: str, pod_netns: str, address: str, gateway: str) -> None:
    """A veth pair between the node's bridge (`veth`) and the pod (`eth0`, with `address` and a default
    route via `gateway`, so ClusterIPs, which no interface has, still route before capture takes them)."""
    run(["ip", "-n", node_netns, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pod_netns])
    run(["ip", "-n", node_netns, "link", "set", veth, "master", bridge, "up"])
    run(["ip", "-n", pod_netns, "addr", "add", address, "dev", "eth0"])
    run(["ip", "-n", pod_netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", pod_netns, "route", "add", "default", "via", gateway])


def iptables_restore(netns: str, rules: str) -> None:
    run(["ip", "netns", "exec", netns, "iptables-restore"], stdin=rules)


def write_etc(netns: str, name: str, text: str) -> None:
    d = NETNS_ETC_DIR / netns
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    (d / name).chmod(0o644)


def exec_argv(netns: str, argv: Sequence[str], uid: int | None = None) -> list[str]:
    """`argv` run inside `netns` (with its /etc/netns files), as `uid` when given. Both tools exec, so the
    PID the caller records is the program's own."""
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    return ["ip", "netns", "exec", netns, *as_user, *argv]


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Call `fn` on a thread that has joined `netns`: sockets it opens live there (setns(2) is per thread;
    Python 3.11 has no os.setns, hence ctypes). Used to reach a pod's Envoy admin from the host."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(NETNS_RUN_DIR / netns, os.O_RDONLY)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    t = threading.Thread(target=body, name=f"netns-{netns}", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]
