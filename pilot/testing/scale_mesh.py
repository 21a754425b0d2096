"""A large Sidecar-scoped mesh written as ordinary YAML files, for load benchmarks and golden tests.

S services spread over K namespaces, P pods per service (alternating `version: v1` / `v2`), and N of those
pods carry a proxy: each proxied pod has its own Sidecar (ingress on its pod IP, an egress listener on its
own bind address importing only `./*`), so a proxy sees exactly the services of its namespace. Every
service has a DestinationRule with subsets v1/v2 and a VirtualService splitting 90/10.

Files: `<ns>/<service>.yaml` (Service, Pods, Sidecars) and `<ns>/<service>-routing.yaml` (DestinationRule,
VirtualService), so an endpoint change and a route change each rewrite one file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVICE_PORT = 9080
APP_PORT = 8080


@dataclass(frozen=True)
class ScalePod:
    service: str
    namespace: str
    version: str
    replica: int
    ip: str
    bind: str
    proxied: bool

    @property
    def name(self) -> str:
        return f"{self.service}-{self.version}-{self.replica}"

    @property
    def node_id(self) -> str:
        return f"sidecar~{self.ip}~{self.name}.{self.namespace}~{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class ScaleMesh:
    services: int
    pods_per_service: int
    namespaces: int
    proxies: int
    mtls_strict: bool = False  # add a mesh-wide STRICT PeerAuthentication

    def namespace_of(self, service_index: int) -> str:
        return f"ns{service_index % self.namespaces}"

    def service_name(self, service_index: int) -> str:
        return f"svc{service_index}"

    def pods(self, service_index: int) -> list[ScalePod]:
        """The pods of one service; the first `proxies / services` (rounded) carry a proxy."""
        per_service = self._proxies_of(service_index)
        out = []
        for j in range(self.pods_per_service):
            n = service_index * self.pods_per_service + j
            out.append(ScalePod(self.service_name(service_index), self.namespace_of(service_index),
                                f"v{j % 2 + 1}", j // 2, _ip(n, 0), _ip(n, 1), j < per_service))
        return out

    def _proxies_of(self, service_index: int) -> int:
        base, extra = divmod(self.proxies, self.services)
        return base + (1 if service_index < extra else 0)

    def all_pods(self) -> Iterator[ScalePod]:
        for i in range(self.services):
            yield from self.pods(i)

    def proxied_pods(self) -> list[ScalePod]:
        return [p for p in self.all_pods() if p.proxied]

    # ---- documents ---------------------------------------------------------------------------------
    def service_documents(self, i: int, extra_pods: int = 0) -> list[dict[str, Any]]:
        name, ns = self.service_name(i), self.namespace_of(i)
        docs: list[dict[str, Any]] = [{
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": APP_PORT}]}}]
        pods = self.pods(i)
        for k in range(extra_pods):  # an endpoint change: more pods of the same service
            n = self.services * self.pods_per_service + i * 16 + k  # past every regular pod
            pods.append(ScalePod(name, ns, "v1", 1000 + k, _ip(n, 0), _ip(n, 1), False))
        for p in pods:
            docs.append(_pod(p))
            if p.proxied:
                docs.append(_sidecar(p))
        return docs

    def routing_documents(self, i: int, weights: tuple[int, int] = (90, 10)) -> list[dict[str, Any]]:
        name, ns = self.service_name(i), self.namespace_of(i)
        return [
            {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
             "metadata": {"name": name, "namespace": ns},
             "spec": {"host": name, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                {"name": "v2", "labels": {"version": "v2"}}]}},
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": name, "namespace": ns},
             "spec": {"hosts": [name], "http": [{"route": [
                 {"destination": {"host": name, "subset": "v1"}, "weight": weights[0]},
                 {"destination": {"host": name, "subset": "v2"}, "weight": weights[1]}]}]}},
        ]

    def mesh_documents(self) -> list[dict[str, Any]]:
        if not self.mtls_strict:
            return []
        return [{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                 "metadata": {"name": "default", "namespace": "istio-system"},
                 "spec": {"mtls": {"mode": "STRICT"}}}]

    def documents(self) -> list[dict[str, Any]]:
        docs = self.mesh_documents()
        for i in range(self.services):
            docs += self.service_documents(i) + self.routing_documents(i)
        return docs

    def yaml(self) -> str:
        return _dump(self.documents())

    # ---- files -------------------------------------------------------------------------------------
    def service_file(self, root: Path, i: int) -> Path:
        return root / self.namespace_of(i) / f"{self.service_name(i)}.yaml"

    def routing_file(self, root: Path, i: int) -> Path:
        return root / self.namespace_of(i) / f"{self.service_name(i)}-routing.yaml"

    def write(self, root: Path) -> None:
        for k in range(self.namespaces):
            (root / f"ns{k}").mkdir(parents=True, exist_ok=True)
        if self.mesh_documents():
            (root / "mesh.yaml").write_text(_dump(self.mesh_documents()))
        for i in range(self.services):
            self.service_file(root, i).write_text(_dump(self.service_documents(i)))
            self.routing_file(root, i).write_text(_dump(self.routing_documents(i)))

    def proxies_in_namespace(self, namespace: str) -> list[ScalePod]:
        return [p for p in self.proxied_pods() if p.namespace == namespace]


def _ip(n: int, offset: int) -> str:
    """Pod IPs in 127.16.0.0/12-ish space: 250 pods per /24, binds in a parallel block."""
    block, host = divmod(n, 250)
    b, c = divmod(block, 250)
    return f"127.{16 + 2 * b + offset}.{c}.{host + 1}"


def _pod(p: ScalePod) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": p.name, "namespace": p.namespace,
                         "labels": {"app": p.service, "version": p.version, "meshpilot.io/pod": p.name}},
            "spec": {"serviceAccountName": p.service,
                     "containers": [{"name": "app", "image": "none", "ports": [{"containerPort": APP_PORT}]}]},
            "status": {"podIP": p.ip}}


def _sidecar(p: ScalePod) -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": p.name, "namespace": p.namespace},
            "spec": {"workloadSelector": {"labels": {"meshpilot.io/pod": p.name}},
                     "ingress": [{"port": {"number": SERVICE_PORT, "protocol": "HTTP", "name": "http"},
                                  "defaultEndpoint": f"0.0.0.0:{APP_PORT}", "captureMode": "NONE"}],
                     "egress": [{"port": {"number": SERVICE_PORT, "protocol": "HTTP", "name": "http"},
                                 "bind": p.bind, "captureMode": "NONE", "hosts": ["./*"]}]}}


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)
