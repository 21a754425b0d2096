"""What a Kubernetes cluster adds to YAML such as Bookinfo's: a running Pod (with an IP) per Deployment
and a ClusterIP per Service that has none. Tests and labs of the captured layout start from the
sample's own YAML, without Sidecar resources, and use this to get workloads the registry sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import yaml

Doc = dict[str, Any]


def documents(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def as_cluster_would(docs: Iterable[Doc], pod_ips: Iterator[str], cluster_ips: Iterator[str]) -> list[Doc]:
    """`docs` with each Service given a ClusterIP (headless `None` stays headless) and, after them, a
    Pod `<deployment>-0` per Deployment, labelled by its pod template, with the next pod IP."""
    out: list[Doc] = []
    pods: list[Doc] = []
    for doc in docs:
        if doc.get("kind") == "Service" and not (doc.get("spec") or {}).get("clusterIP"):
            doc = {**doc, "spec": {**(doc.get("spec") or {}), "clusterIP": next(cluster_ips)}}
        out.append(doc)
        if doc.get("kind") == "Deployment":
            pods.append(_pod(doc, next(pod_ips)))
    return out + pods


def _pod(deployment: Doc, ip: str) -> Doc:
    meta = deployment.get("metadata") or {}
    template = (deployment.get("spec") or {}).get("template") or {}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{meta.get('name')}-0", "namespace": meta.get("namespace", "default"),
                     "labels": dict((template.get("metadata") or {}).get("labels") or {})},
        "spec": dict(template.get("spec") or {}),
        "status": {"podIP": ip, "phase": "Running"},
    }


def pod_ips(docs: Iterable[Doc]) -> dict[str, str]:
    """Pod name -> IP of the Pods in `docs`."""
    return {str(d["metadata"]["name"]): str(d["status"]["podIP"]) for d in docs
            if d.get("kind") == "Pod" and (d.get("status") or {}).get("podIP")}
