"""Proxy identity: Istio node ids and the frozen ProxyView translation works from.

Labels and the service account come from the registry (the Pod with that IP in that namespace), never
from what the proxy claims in its node metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

PROXY_TYPES = ("sidecar", "router")
# Istio's node metadata INTERCEPTION_MODE: REDIRECT (istio-init's iptables REDIRECT) and TPROXY capture
# the pod's traffic into 15001/15006; NONE (and, in meshpilot, no value at all) means every listener
# binds its own address, the loopback layout (loopback-mesh.md, captured-layout.md).
CAPTURING_MODES = ("REDIRECT", "TPROXY")


class NodeIdError(ValueError):
    pass


@dataclass(frozen=True)
class NodeId:
    """`<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`."""

    type: str
    ip: str
    pod: str
    namespace: str
    domain: str
    interception: str = ""  # node metadata INTERCEPTION_MODE; not part of the id

    @classmethod
    def parse(cls, node_id: str, interception: str = "") -> NodeId:
        parts = node_id.split("~")
        if len(parts) != 4:
            raise NodeIdError(f"node id {node_id!r} must have 4 '~'-separated parts: "
                              "type~ip~pod.namespace~namespace.svc.cluster.local")
        ptype, ip, pod_ns, domain = parts
        if ptype not in PROXY_TYPES:
            raise NodeIdError(f"node id {node_id!r}: proxy type {ptype!r} is not one of {PROXY_TYPES}")
        pod, dot, namespace = pod_ns.rpartition(".")
        if not dot or not pod or not namespace:
            raise NodeIdError(f"node id {node_id!r}: third part must be <pod>.<namespace>")
        return cls(ptype, ip, pod, namespace, domain, interception.upper())

    def __str__(self) -> str:
        return f"{self.type}~{self.ip}~{self.pod}.{self.namespace}~{self.domain}"


def make_node_id(ptype: str, ip: str, pod: str, namespace: str) -> str:
    return f"{ptype}~{ip}~{pod}.{namespace}~{namespace}.svc.cluster.local"


@dataclass(frozen=True)
class ProxyView:
    """Everything translation may know about one proxy. Equal views get byte-identical config."""

    type: str
    ip: str
    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...] = ()
    service_account: str = "default"
    known: bool = True  # False when no workload in the registry has this IP
    interception: str = ""  # the proxy's INTERCEPTION_MODE (node metadata); "" = loopback layout

    @property
    def captured(self) -> bool:
        """Whether iptables sends the pod's traffic to 15001/15006 (Istio's standard sidecar layout)."""
        return self.interception in CAPTURING_MODES and not self.is_gateway

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def is_gateway(self) -> bool:
        return self.type == "router"

    def matches(self, selector: dict[str, str] | None) -> bool:
        """Istio workloadSelector semantics: an empty/absent selector matches everything."""
        labels = self.label_map
        return all(labels.get(k) == v for k, v in (selector or {}).items())
