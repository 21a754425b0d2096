"""Translation work done once per snapshot and scope, not once per proxy.

Outbound clusters, endpoints and route configurations depend on a proxy only through its namespace,
its Sidecar and (when some config selects by workload labels) its labels: proxies that agree on those
share the very same packed resources. Sharing the objects also lets the xDS cache serialise and hash
each one once (ARCHITECTURE.md rule 2: the cache key is the argument).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.scope import egress_hosts
from pilot.model.scope_index import memoised
from pilot.model.snapshot import MeshSnapshot

T = TypeVar("T")


def shared(snapshot: MeshSnapshot, key: tuple[object, ...], build: Callable[[], T]) -> T:
    """Built once per snapshot under `key`, shared by every proxy that asks."""
    return memoised(snapshot, key, build)


def shared_if_built(snapshot: MeshSnapshot, key: tuple[object, ...]) -> Any:
    """What `shared` built under `key` for this snapshot, or None."""
    return snapshot.memo.get(key)


def labels_matter(snapshot: MeshSnapshot) -> bool:
    """Whether any config makes outbound config depend on workload labels (DestinationRule
    workloadSelector, VirtualService match sourceLabels)."""

    def compute() -> bool:
        if any(dr.spec.get("workloadSelector") for dr in snapshot.of_kind("DestinationRule")):
            return True
        for vs in snapshot.of_kind("VirtualService"):
            for section in ("http", "tcp", "tls"):
                for rule in vs.spec.get(section) or []:
                    if any(isinstance(m, dict) and m.get("sourceLabels") for m in rule.get("match") or []):
                        return True
        return False

    return shared(snapshot, ("labels-matter",), compute)


def outbound_scope(snapshot: MeshSnapshot, view: ProxyView, sidecar: Resource | None) -> tuple[object, ...]:
    """Everything outbound translation reads from a proxy's view."""
    labels = view.labels if labels_matter(snapshot) else ()
    # Of the Sidecar only its egress hosts matter outbound: pods whose Sidecars differ only in
    # listener binds (every pod on loopback) still share.
    return (view.type, view.namespace, egress_hosts(sidecar), labels)
