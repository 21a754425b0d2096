"""The Istio telemetry identity of a workload: the `*_workload`, `*_app`, `*_version` and
`*_canonical_service` label values of Istio's standard metrics
(https://istio.io/latest/docs/reference/config/metrics/#labels).

Istio takes the workload name from the pod's owner (its Deployment); meshpilot keeps no owner
references, so the name is the pod name less the suffixes Kubernetes generates for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

UNKNOWN = "unknown"  # Istio's value for a label it cannot fill

# <deployment>-<replicaset hash>-<5 chars>: the hash uses Kubernetes' safe alphabet (no vowels).
_DEPLOYMENT_POD = re.compile(r"^(?P<name>.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")
# <statefulset>-<ordinal>, <daemonset/job>-<5 chars>
_ORDINAL_POD = re.compile(r"^(?P<name>.+)-\d+$")
_GENERATED_POD = re.compile(r"^(?P<name>.+)-[bcdfghjklmnpqrstvwxz2456789]{5}$")


def workload_name(pod: str) -> str:
    for pattern in (_DEPLOYMENT_POD, _ORDINAL_POD, _GENERATED_POD):
        m = pattern.match(pod)
        if m:
            return m.group("name")
    return pod


@dataclass(frozen=True)
class WorkloadIdentity:
    workload: str
    namespace: str
    app: str = UNKNOWN
    version: str = UNKNOWN
    canonical_service: str = UNKNOWN

    @classmethod
    def of(cls, pod: str, namespace: str, labels: Mapping[str, str], workload: str = "") -> WorkloadIdentity:
        app = labels.get("app") or labels.get("app.kubernetes.io/name") or UNKNOWN
        return cls(workload=workload or workload_name(pod), namespace=namespace or UNKNOWN, app=app,
                   version=labels.get("version") or labels.get("app.kubernetes.io/version") or UNKNOWN,
                   canonical_service=labels.get("service.istio.io/canonical-name") or app)

    def labels(self, side: str) -> dict[str, str]:
        """Istio's label names for this workload on `side` ("source" or "destination")."""
        return {f"{side}_workload": self.workload, f"{side}_workload_namespace": self.namespace,
                f"{side}_app": self.app, f"{side}_version": self.version,
                f"{side}_canonical_service": self.canonical_service}


def unknown_labels(side: str) -> dict[str, str]:
    return WorkloadIdentity(UNKNOWN, UNKNOWN).labels(side)
