"""The workloads analysis selects against: every Pod in the config, with or without an IP.

The snapshot's registry keeps only Pods with `status.podIP` (an endpoint needs an address), but
`istioctl analyze` matches selectors against the Pod objects themselves, so a Pod that is still
pending, or a manifest written without status, still counts for selector and subset checks.
"""

from __future__ import annotations

from collections.abc import Mapping

from pilot.model.registry import Workload, workload_from_pod
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

_MEMO_KEY = "analysis.workloads"


def _pod_workload(pod: Resource) -> Workload:
    with_ip = workload_from_pod(pod)
    if with_ip is not None:
        return with_ip
    spec = pod.spec if isinstance(pod.spec, dict) else {}
    return Workload(name=pod.name, namespace=pod.namespace, ip="", labels=dict(pod.labels),
                    service_account=str(spec.get("serviceAccountName") or spec.get("serviceAccount")
                                        or "default"))


def analysis_workloads(snapshot: MeshSnapshot) -> tuple[Workload, ...]:
    """Registry workloads (Pods with an IP, WorkloadEntries) plus Pods without an IP."""
    memo = snapshot.memo
    if _MEMO_KEY not in memo:
        known = {(w.namespace, w.name) for w in snapshot.workloads}
        extra = tuple(_pod_workload(p) for p in snapshot.of_kind("Pod") if (p.namespace, p.name) not in known)
        memo[_MEMO_KEY] = snapshot.workloads + extra
    result: tuple[Workload, ...] = memo[_MEMO_KEY]
    return result


def workloads_in(snapshot: MeshSnapshot, namespace: str) -> tuple[Workload, ...]:
    """The analysis workloads of one namespace (indexed once per snapshot)."""
    key = "analysis.workloads_by_namespace"
    index = snapshot.memo.get(key)
    if not isinstance(index, dict):
        index = {}
        for w in analysis_workloads(snapshot):
            index.setdefault(w.namespace, []).append(w)
        index = {ns: tuple(ws) for ns, ws in index.items()}
        snapshot.memo[key] = index
    found: tuple[Workload, ...] = index.get(namespace, ())
    return found


def selected(snapshot: MeshSnapshot, namespace: str | None, selector: Mapping[str, str]) -> list[Workload]:
    """Workloads (of `namespace`, or anywhere for None) whose labels match `selector`: candidates come
    from a (namespace, label, value) index on the selector's first label, so a lookup does not scan
    every workload."""
    if not selector:
        return list(analysis_workloads(snapshot) if namespace is None else workloads_in(snapshot, namespace))
    key = "analysis.workloads_by_label"
    index = snapshot.memo.get(key)
    if not isinstance(index, dict):
        index = {}
        for w in analysis_workloads(snapshot):
            for label in w.labels.items():
                index.setdefault((w.namespace, *label), []).append(w)
                index.setdefault((None, *label), []).append(w)
        snapshot.memo[key] = index
    first = min(selector.items())
    return [w for w in index.get((namespace, *first), []) if w.matches(selector)]


def namespaces(snapshot: MeshSnapshot) -> frozenset[str]:
    """Namespaces that exist: Namespace objects and every namespace a resource lives in (file mode
    rarely carries Namespace objects, so a namespace with config in it counts as existing)."""
    key = "analysis.namespaces"
    cached = snapshot.memo.get(key)
    if not isinstance(cached, frozenset):
        cached = frozenset({n.name for n in snapshot.of_kind("Namespace")}
                           | {r.namespace for r in snapshot.resources if r.namespace})
        snapshot.memo[key] = cached
    return cached
