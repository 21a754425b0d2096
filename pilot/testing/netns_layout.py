"""Turn ordinary Kubernetes + Istio YAML (Bookinfo's own, say) into the pods of a network-namespace lab.

What a kubelet, the scheduler and the Service controller would do, and nothing else: each Deployment
becomes `replicas` pods with the template's labels, service account and container ports; each pod
gets an IP from the pod range; each Service without a `spec.clusterIP` gets one from the service range.
The control plane then reads the same objects (Services with their ClusterIPs, Pods with `status.podIP`),
so the lab's `/etc/hosts` and the translation agree on every address. Pure: no processes, no network.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pilot.model.kinds import KINDS

POD_RANGE = ipaddress.IPv4Network("10.213.0.0/16")
SERVICE_RANGE = ipaddress.IPv4Network("10.214.0.0/16")
DOMAIN = "svc.cluster.local"
# Kinds the lab consumes itself; the control plane would only skip them with a warning.
CONSUMED_KINDS = frozenset({"Deployment", "ServiceAccount"})


class LayoutError(ValueError):
    """The YAML cannot be laid out (one line, shown to the user as is)."""


@dataclass(frozen=True)
class LabPod:
    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    service_account: str
    ip: str
    ports: tuple[int, ...]  # container ports the app listens on (0.0.0.0 inside the pod's netns)
    index: int  # 0, 1, ... in layout order: names the pod's veth and netns

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def app(self) -> str:
        return self.label_map.get("app", self.name)

    @property
    def version(self) -> str:
        return self.label_map.get("version", "v1")

    @property
    def node_id(self) -> str:
        return f"sidecar~{self.ip}~{self.name}.{self.namespace}~{self.namespace}.{DOMAIN}"


@dataclass(frozen=True)
class LabService:
    name: str
    namespace: str
    cluster_ip: str

    def host_names(self, from_namespace: str) -> list[str]:
        """The names a pod in `from_namespace` may use, as Kubernetes DNS answers them."""
        short = [self.name] if from_namespace == self.namespace else []
        return [*short, f"{self.name}.{self.namespace}", f"{self.name}.{self.namespace}.svc",
                f"{self.name}.{self.namespace}.{DOMAIN}"]


@dataclass(frozen=True)
class LabLayout:
    pods: tuple[LabPod, ...]
    services: tuple[LabService, ...]
    documents: tuple[dict[str, Any], ...]  # what the control plane reads

    def pod(self, app: str, version: str = "") -> LabPod:
        for p in self.pods:
            if p.app == app and (not version or p.version == version):
                return p
        raise KeyError(f"no pod of app {app!r} {version}")

    def hosts_file(self, pod: LabPod) -> str:
        """`/etc/hosts` for one pod: itself, loopback, and every Service's ClusterIP by its DNS names."""
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", f"{pod.ip} {pod.name}"]
        lines += [f"{s.cluster_ip} {' '.join(s.host_names(pod.namespace))}" for s in self.services]
        return "\n".join(lines) + "\n"


def _ns(doc: Mapping[str, Any]) -> str:
    return str((doc.get("metadata") or {}).get("namespace") or "default")


def _ports(spec: Mapping[str, Any]) -> tuple[int, ...]:
    ports = {int(p["containerPort"]) for c in spec.get("containers") or [] for p in c.get("ports") or []
             if isinstance(p, dict) and str(p.get("containerPort", "")).isdigit()}
    return tuple(sorted(ports))


def _pod_doc(name: str, namespace: str, labels: Mapping[str, str], spec: Mapping[str, Any], ip: str
             ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": copy.deepcopy(dict(spec)), "status": {"podIP": ip, "phase": "Running"}}


class _Addresses:
    def __init__(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network, first: int, taken: Iterable[str]
                 ) -> None:
        self._hosts = (str(h) for i, h in enumerate(network.hosts()) if i + 1 >= first)
        self._taken = set(taken)

    def next(self, what: str) -> str:
        for ip in self._hosts:
            if ip not in self._taken:
                self._taken.add(ip)
                return ip
        raise LayoutError(f"no free address left for {what}")


def lay_out(docs: Iterable[Mapping[str, Any]], pod_range: ipaddress.IPv4Network = POD_RANGE,
            service_range: ipaddress.IPv4Network = SERVICE_RANGE) -> LabLayout:
    """Pods for every Deployment (and bare Pod), ClusterIPs for every Service; `.1` of the pod range is the
    bridge (the pods' gateway), pods start at `.10`."""
    copies: list[dict[str, Any]] = [copy.deepcopy(dict(d)) for d in docs if isinstance(d, Mapping)]
    pod_ips = _Addresses(pod_range, 10, (str((d.get("status") or {}).get("podIP", "")) for d in copies))
    svc_ips = _Addresses(service_range, 10, (str((d.get("spec") or {}).get("clusterIP", "")) for d in copies))
    pods: list[LabPod] = []
    services: list[LabService] = []
    out: list[dict[str, Any]] = []

    def add_pod(name: str, ns: str, labels: Mapping[str, str], spec: Mapping[str, Any], ip: str) -> None:
        pods.append(LabPod(name, ns, tuple(sorted(labels.items())),
                           str(spec.get("serviceAccountName") or "default"), ip, _ports(spec), len(pods)))
        out.append(_pod_doc(name, ns, labels, spec, ip))

    for doc in copies:
        kind, meta = doc.get("kind"), doc.get("metadata") or {}
        if kind == "Deployment":
            template = (doc.get("spec") or {}).get("template") or {}
            labels = {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}
            replicas = int((doc.get("spec") or {}).get("replicas", 1))
            for n in range(replicas):
                name = f"{meta.get('name')}-{n}"
                add_pod(name, _ns(doc), labels, template.get("spec") or {}, pod_ips.next(f"pod {name}"))
        elif kind == "Pod":
            status = doc.get("status") or {}
            ip = str(status.get("podIP") or "") or pod_ips.next(f"pod {meta.get('name')}")
            if ipaddress.ip_address(ip) not in pod_range:
                raise LayoutError(f"Pod {_ns(doc)}/{meta.get('name')}: podIP {ip} is outside the lab's {pod_range}")
            add_pod(str(meta.get("name")), _ns(doc), meta.get("labels") or {}, doc.get("spec") or {}, ip)
        elif kind == "Service":
            spec = doc.setdefault("spec", {})
            if str(spec.get("clusterIP", "")).lower() != "none":
                spec["clusterIP"] = spec.get("clusterIP") or svc_ips.next(f"Service {meta.get('name')}")
                services.append(LabService(str(meta.get("name")), _ns(doc), str(spec["clusterIP"])))
            out.append(doc)
        elif kind in CONSUMED_KINDS or kind not in KINDS:
            continue
        else:
            out.append(doc)
    if not pods:
        raise LayoutError("no Deployment or Pod in the YAML: nothing to run")
    return LabLayout(tuple(pods), tuple(services), tuple(out))
