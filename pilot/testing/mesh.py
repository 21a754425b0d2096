"""Lay out a mesh on loopback (loopback-mesh.md) and write it as ordinary Kubernetes + Istio YAML.

Each pod gets three addresses in its own block: pod IP `<a>.<b>.<c>.<n>` (sidecar inbound listener and
the app behind it), egress bind `<a>.<b>.<c+1>.<n>` (where the app calls out) and admin
`<a>.<b>.<c+2>.<n>`. Tests pick a random block so several meshes can run side by side.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import yaml

SERVICE_PORT = 9080
APP_PORT = 8080


@dataclass(frozen=True)
class PodSpec:
    service: str
    version: str
    index: int
    block: tuple[int, int, int]
    namespace: str = "default"
    service_account: str = ""
    egress_hosts: tuple[str, ...] = ("./*",)
    extra_labels: tuple[tuple[str, str], ...] = ()
    proxy_type: str = "sidecar"  # "router" for an ingress gateway
    replica: int = 0  # the n-th pod of the same service and version

    @property
    def name(self) -> str:
        return f"{self.service}-{self.version}-{self.replica}"

    def _addr(self, offset: int) -> str:
        a, b, c = self.block
        return f"{a}.{b}.{c + offset}.{self.index}"

    @property
    def ip(self) -> str:
        return self._addr(0)

    @property
    def bind(self) -> str:
        return self._addr(1)

    @property
    def admin(self) -> str:
        return self._addr(2)

    @property
    def sa(self) -> str:
        return self.service_account or f"bookinfo-{self.service}"

    @property
    def labels(self) -> dict[str, str]:
        """The pod's labels (a gateway has no version label); its bootstrap names it by them in metrics."""
        base = {"app": self.service} if self.proxy_type == "router" else {"app": self.service, "version": self.version}
        return {**base, **dict(self.extra_labels)}

    @property
    def node_id(self) -> str:
        return f"{self.proxy_type}~{self.ip}~{self.name}.{self.namespace}~{self.namespace}.svc.cluster.local"

    @property
    def app_address(self) -> str:
        return f"{self.ip}:{APP_PORT}"


@dataclass
class LoopbackMesh:
    pods: list[PodSpec] = field(default_factory=list)
    services: dict[tuple[str, str], int] = field(default_factory=dict)  # (ns, name) -> port
    gateways: list[PodSpec] = field(default_factory=list)  # router pods: no app, no Sidecar
    # (ns, name) of a gateway Service -> (port, targetPort) pairs
    gateway_services: dict[tuple[str, str], tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, workloads: list[tuple[str, str]], block: tuple[int, int, int] | None = None,
              namespace: str = "default") -> LoopbackMesh:
        block = block or random_block()
        mesh = cls()
        replicas: dict[tuple[str, str], int] = {}
        for i, (service, version) in enumerate(workloads, start=10):
            n = replicas[(service, version)] = replicas.get((service, version), -1) + 1
            mesh.pods.append(PodSpec(service, version, i, block, namespace, replica=n))
            mesh.services[(namespace, service)] = SERVICE_PORT
        return mesh

    def pod(self, service: str, version: str = "") -> PodSpec:
        return next(p for p in self.pods if p.service == service and (not version or p.version == version))

    def add_gateway(self, name: str = "istio-ingressgateway", namespace: str = "istio-system",
                    labels: tuple[tuple[str, str], ...] = (("istio", "ingressgateway"),), index: int = 200,
                    service_ports: tuple[tuple[int, int], ...] = ()) -> PodSpec:
        """An ingress gateway pod (router node id) in this mesh's block, with an optional Service whose
        `port -> targetPort` pairs tell the gateway which port to listen on for a Gateway server port."""
        block = self.pods[0].block if self.pods else random_block()
        gw = PodSpec(name, "v1", index, block, namespace, service_account=f"{name}-service-account",
                     extra_labels=labels, proxy_type="router")
        self.gateways.append(gw)
        if service_ports:
            self.gateway_services[(namespace, name)] = service_ports
        return gw

    def _gateway_documents(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for gw in self.gateways:
            docs.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": gw.name, "namespace": gw.namespace,
                                      "labels": {"app": gw.service, **dict(gw.extra_labels)}},
                         "spec": {"serviceAccountName": gw.sa,
                                  "containers": [{"name": "istio-proxy", "image": "none"}]},
                         "status": {"podIP": gw.ip}})
        for (ns, name), ports in sorted(self.gateway_services.items()):
            docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                         "spec": {"selector": {"app": name}, "ports": [
                             {"name": f"port-{p}", "port": p, "targetPort": t} for p, t in ports]}})
        return docs

    def documents(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for (ns, name), port in sorted(self.services.items()):
            docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
                                                                            "labels": {"app": name}},
                         "spec": {"selector": {"app": name},
                                  "ports": [{"name": "http", "port": port, "targetPort": port}]}})
        groups: dict[tuple[str, str, str], int] = {}
        for p in self.pods:
            groups[(p.namespace, p.service, p.version)] = groups.get((p.namespace, p.service, p.version), 0) + 1
        for p in self.pods:
            selector = {"app": p.service, "version": p.version}
            if groups[(p.namespace, p.service, p.version)] > 1:
                # Each pod binds its own egress address, so replicas need a Sidecar each.
                selector["meshpilot.io/pod"] = p.name
            labels = {**selector, **dict(p.extra_labels)}
            docs.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": p.name, "namespace": p.namespace, "labels": labels},
                         "spec": {"serviceAccountName": p.sa, "containers": [
                             {"name": "app", "image": "none", "ports": [{"containerPort": APP_PORT}]}]},
                         "status": {"podIP": p.ip}})
            docs.append({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                         "metadata": {"name": p.name, "namespace": p.namespace},
                         "spec": {"workloadSelector": {"labels": selector},
                                  "ingress": [{"port": {"number": SERVICE_PORT, "protocol": "HTTP",
                                                        "name": "http"},
                                               "defaultEndpoint": f"0.0.0.0:{APP_PORT}",
                                               "captureMode": "NONE"}],
                                  "egress": [{"port": {"number": SERVICE_PORT, "protocol": "HTTP",
                                                       "name": "http"},
                                              "bind": p.bind, "captureMode": "NONE",
                                              "hosts": list(p.egress_hosts)}]}})
        return docs + self._gateway_documents()

    def yaml(self) -> str:
        return yaml.safe_dump_all(self.documents(), sort_keys=False)

    def app_specs(self) -> list[str]:
        return [f"{p.service}:{p.version}@{p.app_address}/{p.name}" for p in self.pods]


def random_block() -> tuple[int, int, int]:
    """A random /22-ish block in 127.0.0.0/8 away from 127.0.0.1 and the demo's 127.10-30.x."""
    return (127, random.randint(100, 250), random.randrange(0, 250, 4))


BOOKINFO = [("productpage", "v1"), ("details", "v1"), ("ratings", "v1"),
            ("reviews", "v1"), ("reviews", "v2"), ("reviews", "v3")]
