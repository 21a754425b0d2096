"""What runs in a lab pod: the app (as its own uid) and Envoy (as uid 1337), and Envoy's bootstrap.

The bootstrap is the loopback one (`pilot.bootstrap`) with what a captured pod needs instead:
- node metadata `INTERCEPTION_MODE: REDIRECT`, Istio's flag that iptables capture the pod, so the control
  plane gives it virtualOutbound 15001 / virtualInbound 15006 rather than per-address listeners;
- xDS over a Unix socket (`pipe`): the control plane stays on the host, the pod's netns has no route to
  it, and a filesystem path crosses network namespaces without any routing (see docs/netns-lab.md);
- admin on 127.0.0.1:15000 inside the pod, as in Istio (the lab reaches it by joining the netns);
- no `upstream_bind_config`: the pod has its own IP, the kernel picks it.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pilot.bootstrap import bootstrap
from pilot.testing.istio_iptables import PROXY_UID
from pilot.testing.netns_layout import LabPod

ADMIN_PORT = 15000
APP_UID = 1500  # any uid but 1337 (and root): what istio-init's owner match sees as "the app"


def pod_bootstrap(pod: LabPod, xds_socket: Path, token: str = "") -> dict[str, Any]:
    doc = bootstrap(pod.node_id, xds_address="127.0.0.1:15010", admin_address=f"127.0.0.1:{ADMIN_PORT}",
                    token=token, labels=pod.label_map, service_cluster=f"{pod.app}.{pod.namespace}",
                    interception_mode="REDIRECT")
    doc.pop("cluster_manager", None)
    for cluster in doc["static_resources"]["clusters"]:
        if cluster["name"] == "xds-grpc":
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            endpoint["address"] = {"pipe": {"path": str(xds_socket)}}
    return doc


def envoy_argv(binary: str, config: Path, log_level: str = "warn") -> list[str]:
    return [binary, "-c", str(config), "--concurrency", "1", "--use-dynamic-base-id", "--log-level", log_level,
            "--drain-time-s", "1"]


def app_specs(pod: LabPod) -> list[str]:
    """`pilot.testing.apps` specs: the pod's app on every container port, on all of the pod's addresses."""
    return [f"{pod.app}:{pod.version}@0.0.0.0:{port}/{pod.name}" for port in pod.ports]


@functools.cache
def python_for(uid: int) -> str:
    """A Python that `uid` may run: this one, unless it lives where only root can look (a pyenv under
    /root), then the system's. The apps and the client need nothing but the standard library. Probed
    exactly as the lab starts them (setpriv exec'ing Python itself): through another exec (`env`) the
    venv's Python may be refused where this works."""
    for candidate in (sys.executable, shutil.which("python3") or "", "/usr/bin/python3"):
        if candidate and _runs_as(uid, candidate):
            return candidate
    raise FileNotFoundError(f"no python3 that uid {uid} can run (the venv's lives under a private dir)")


def _runs_as(uid: int, python: str) -> bool:
    argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", python, "-c", "import json"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


__all__ = ["ADMIN_PORT", "APP_UID", "PROXY_UID", "app_specs", "envoy_argv", "pod_bootstrap", "python_for"]
