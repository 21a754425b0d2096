"""The API resources the fake kube-apiserver serves, and the discovery documents that describe them.

Built-in kinds (core v1, discovery.k8s.io/v1) are always served; the Istio and meshpilot kinds are
custom resources, every version in `pilot.model.kinds.KINDS` served from one storage (as a CRD with
several `served` versions is: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pilot.model.kinds import KINDS

_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
# Field selectors the real server accepts per built-in resource (pkg/registry/*/strategy.go
# `...ToSelectableFields`); custom resources accept only metadata.name and metadata.namespace.
_EXTRA_FIELDS: dict[str, frozenset[str]] = {
    "pods": frozenset({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                       "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
                       "status.nominatedNodeName"}),
    "secrets": frozenset({"type"}),
    "namespaces": frozenset({"status.phase"}),
    "services": frozenset({"spec.clusterIP", "spec.type"}),
}
ALL_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ApiResource:
    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str
    namespaced: bool
    builtin: bool
    status_subresource: bool
    # False where the real registry strategy refuses a PUT without metadata.resourceVersion (422), as
    # coordination.k8s.io Leases do: a leader election write must name the version it read.
    unconditional_update: bool = True

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def field_labels(self) -> frozenset[str]:
        return _COMMON_FIELDS | _EXTRA_FIELDS.get(self.plural, frozenset())

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version

    def group_resource(self) -> str:
        """`plural.group` as the real server names it in messages (`virtualservices.networking.istio.io`)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def default_resources() -> list[ApiResource]:
    out: list[ApiResource] = []
    for info in KINDS.values():
        builtin = info.group in ("", "discovery.k8s.io")
        out.append(ApiResource(
            group=info.group, versions=info.versions, plural=info.plural, kind=info.served_kind,
            namespaced=info.kind != "Namespace", builtin=builtin,
            # Secrets and EndpointSlices have no status; every Istio CRD declares `subresources: status`.
            status_subresource=info.kind not in ("Secret", "EndpointSlice"),
        ))
    out.append(LEASE)
    return out


# What client-go's and the `kubernetes` client's leader election lock on.
LEASE = ApiResource(group="coordination.k8s.io", versions=("v1",), plural="leases", kind="Lease",
                    namespaced=True, builtin=True, status_subresource=False, unconditional_update=False)


def api_resource_list(group_version: str, resources: Iterable[ApiResource]) -> dict[str, Any]:
    items = []
    for r in resources:
        items.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": list(ALL_VERBS)})
        if r.status_subresource:
            items.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                          "kind": r.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": items}


def api_group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": gvs,
            "preferredVersion": gvs[0]}
