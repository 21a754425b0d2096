"""What a Kubernetes cluster would add to YAML such as Bookinfo's: a Pod (with an IP) per Deployment
replica and a ClusterIP per Service that has none. Tests and labs of the captured layout start from
the sample's own YAML, without Sidecar resources, and use this to get running workloads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pilot.model.resource import Resource, resource_from_document


def pods_for_deployments(resources: Iterable[Resource], pod_ips: Iterator[str]) -> list[Resource]:
    """One Pod per Deployment (replica 0), named `<deployment>-0`, labelled by the pod template."""
    pods = []
    for dep in resources:
        if dep.kind != "Deployment":
            continue
        template = dep.spec.get("template") or {}
        meta = template.get("metadata") or {}
        pods.append(resource_from_document({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{dep.name}-0", "namespace": dep.namespace, "labels": dict(meta.get("labels") or {})},
            "spec": dict(template.get("spec") or {}),
            "status": {"podIP": next(pod_ips), "phase": "Running"},
        }, default_namespace=dep.namespace))
    return pods


def with_cluster_ips(resources: Iterable[Resource], cluster_ips: Iterator[str]) -> list[Resource]:
    """The resources, each Service without `spec.clusterIP` given the next address of `cluster_ips`
    (headless `None` stays headless)."""
    out = []
    for r in resources:
        if r.kind == "Service" and not r.spec.get("clusterIP"):
            doc: dict[str, Any] = dict(r.body)
            doc["spec"] = {**dict(r.spec), "clusterIP": next(cluster_ips)}
            r = resource_from_document(doc, r.origin, r.namespace)
        out.append(r)
    return out
