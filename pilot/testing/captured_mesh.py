"""A mesh of captured pods (Istio's standard layout) from a sample's own YAML: config dir, mesh config
and one Envoy bootstrap per pod with node metadata INTERCEPTION_MODE=REDIRECT.

Where the pods run is the caller's business: network namespaces with istio-init's iptables rules (the
lab), or plain loopback IPs for tests that only need Envoy to accept the configuration.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pilot.bootstrap import bootstrap
from pilot.model.proxy import make_node_id
from pilot.testing.cluster_sim import Doc, as_cluster_would, documents


@dataclass(frozen=True)
class CapturedPod:
    name: str
    namespace: str
    ip: str
    service_account: str
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def node_id(self) -> str:
        return make_node_id("sidecar", self.ip, self.name, self.namespace)


@dataclass
class CapturedMesh:
    docs: list[Doc]
    proxy_listen_port: int = 15001
    proxy_inbound_listen_port: int = 15006

    @classmethod
    def from_yaml(cls, text: str, pod_ips: Iterator[str], cluster_ips: Iterator[str], **ports: int) -> CapturedMesh:
        return cls(as_cluster_would(documents(text), pod_ips, cluster_ips), **ports)

    @property
    def pods(self) -> list[CapturedPod]:
        return [CapturedPod(str(d["metadata"]["name"]), str(d["metadata"].get("namespace", "default")),
                            str(d["status"]["podIP"]),
                            str((d.get("spec") or {}).get("serviceAccountName") or "default"),
                            dict(d["metadata"].get("labels") or {}))
                for d in self.docs if d.get("kind") == "Pod"]

    def pod(self, prefix: str) -> CapturedPod:
        return next(p for p in self.pods if p.name.startswith(prefix))

    def cluster_ip(self, service: str) -> str:
        return next(str(d["spec"]["clusterIP"]) for d in self.docs
                    if d.get("kind") == "Service" and d["metadata"]["name"] == service)

    def write_config(self, config_dir: Path, extra: Iterable[Path] = ()) -> Path:
        """The cluster's YAML plus `extra` files (VirtualServices, ...) into `config_dir`."""
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "cluster.yaml").write_text(yaml.safe_dump_all(self.docs, sort_keys=False))
        for path in extra:
            shutil.copy(path, config_dir)
        return config_dir

    def write_mesh_config(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({"proxyListenPort": self.proxy_listen_port,
                                        "proxyInboundListenPort": self.proxy_inbound_listen_port}))
        return path

    def bootstrap(self, pod: CapturedPod, xds_address: str, admin_address: str, **kwargs: Any) -> dict[str, Any]:
        app = pod.labels.get("app", pod.name)
        return bootstrap(pod.node_id, xds_address=xds_address, admin_address=admin_address,
                         labels=pod.labels, service_cluster=f"{app}.{pod.namespace}",
                         interception_mode="REDIRECT", **kwargs)
