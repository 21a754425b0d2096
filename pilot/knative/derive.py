"""The Kubernetes and Istio resources a Knative Route and its revisions stand for, as net-istio programs
the mesh (reconciler/ingress/resources/virtual_service.go), so the existing translation serves them:

- per revision, a Service `{rev}` (port 80 `http` -> the revision's container port, no selector) and an
  EndpointSlice `{rev}-pods` holding its ready pods (those labelled `serving.knative.dev/revision: {rev}`):
  Knative's public revision Service, whose endpoints it writes itself. Here they are the pods, on the
  user container's port (Knative's queue-proxy 8012 is not used);
- per Route, placeholder Services `{route}` and `{tag}-{route}` (port 80, no endpoints) that make the
  names known, as Knative's route controller creates them;
- per Route, a VirtualService `{route}-mesh` for the sidecars (gateway `mesh`) with the cluster-local
  hosts `{h}.{ns}`, `{h}.{ns}.svc`, `{h}.{ns}.svc.cluster.local`; one http route per host group matched
  on the authority prefix `{h}.{ns}`; weighted destinations `{rev}.{ns}.svc.cluster.local:80`, each
  *setting* `Knative-Serving-Revision` and `Knative-Serving-Namespace`; no retries; no route timeout.

A resource of the same kind and name that already exists (a cluster running Knative has its own revision
Services) is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pilot.knative.revisions import Revision
from pilot.knative.spec import LABEL_CONFIGURATION, LABEL_REVISION, RouteSpec
from pilot.knative.traffic import Split
from pilot.model.registry import DEFAULT_DOMAIN_SUFFIX
from pilot.model.resource import Origin, Resource, resource_from_document

REVISION_PORT = 80
HEADER_REVISION = "Knative-Serving-Revision"
HEADER_NAMESPACE = "Knative-Serving-Namespace"
LABEL_ROUTE = "serving.knative.dev/route"
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshpilot-knative"}


@dataclass(frozen=True)
class RevisionPods:
    revision: Revision
    ips: tuple[str, ...]  # its ready pods


def revision_resources(rp: RevisionPods) -> list[Resource]:
    rev = rp.revision
    labels = {**MANAGED_BY, LABEL_REVISION: rev.name, LABEL_CONFIGURATION: rev.configuration}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": rev.name, "namespace": rev.namespace, "labels": labels},
               "spec": {"ports": [{"name": "http", "port": REVISION_PORT, "targetPort": rev.port}]}}
    docs: list[dict[str, Any]] = [service]
    for family in ("IPv4", "IPv6"):
        ips = [ip for ip in rp.ips if (":" in ip) == (family == "IPv6")]
        if family == "IPv6" and not ips:
            continue
        name = f"{rev.name}-pods" if family == "IPv4" else f"{rev.name}-pods-v6"
        docs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": name, "namespace": rev.namespace,
                                  "labels": {**labels, "kubernetes.io/service-name": rev.name}},
                     "addressType": family,
                     "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in sorted(ips)],
                     "ports": [{"name": "http", "port": rev.port, "protocol": "TCP"}]})
    return [_resource(d) for d in docs]


def route_hosts(name: str, namespace: str, domain: str = DEFAULT_DOMAIN_SUFFIX) -> list[str]:
    base = f"{name}.{namespace}"
    return [base, f"{base}.svc", f"{base}.{domain}"] if domain == DEFAULT_DOMAIN_SUFFIX else [base, f"{base}.{domain}"]


def tag_host_name(tag: str, route: str) -> str:
    """Knative's default tag-template `{{.Tag}}-{{.Name}}`."""
    return f"{tag}-{route}"


def route_resources(route: RouteSpec, splits: Sequence[Split], domain: str = DEFAULT_DOMAIN_SUFFIX
                    ) -> list[Resource]:
    """Placeholder Services and the `-mesh` VirtualService for a Route programmed with `splits`."""
    groups = traffic_groups(splits)
    docs: list[dict[str, Any]] = []
    hosts: list[str] = []
    http: list[dict[str, Any]] = []
    for tag, members in groups.items():
        name = tag_host_name(tag, route.name) if tag else route.name
        docs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": name, "namespace": route.namespace,
                                  "labels": {**MANAGED_BY, LABEL_ROUTE: route.name}},
                     "spec": {"ports": [{"name": "http", "port": REVISION_PORT}]}})
        hosts.extend(route_hosts(name, route.namespace, domain))
        http.append({"match": [{"authority": {"prefix": f"{name}.{route.namespace}"}}],
                     "route": [_destination(route.namespace, s, domain, len(members)) for s in members],
                     "retries": {"attempts": 0}})
    if http:
        docs.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                     "metadata": {"name": f"{route.name}-mesh", "namespace": route.namespace,
                                  "labels": {**MANAGED_BY, LABEL_ROUTE: route.name}},
                     "spec": {"hosts": hosts, "gateways": ["mesh"], "http": http}})
    return [_resource(d) for d in docs]


def traffic_groups(splits: Iterable[Split]) -> dict[str, list[Split]]:
    """Knative's ingress grouping: "" holds every split with traffic; each tag gets its own group with
    its split at 100 %, even a 0 % one (the canary pattern `tag: candidate, percent: 0`)."""
    splits = list(splits)
    default: dict[str, Split] = {}
    for s in splits:
        if s.percent > 0:  # one destination per revision (a pinned and a latest target may share one)
            before = default.get(s.revision)
            default[s.revision] = s if before is None else Split(s.revision, before.percent + s.percent)
    groups: dict[str, list[Split]] = {"": list(default.values())}
    for s in splits:
        if s.tag and s.tag not in groups:
            groups[s.tag] = [Split(s.revision, 100, s.tag, s.configuration, s.latest)]
    return {tag: members for tag, members in groups.items() if members}


def _destination(namespace: str, split: Split, domain: str, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "destination": {"host": f"{split.revision}.{namespace}.{domain}", "port": {"number": REVISION_PORT}},
        "headers": {"request": {"set": {HEADER_REVISION: split.revision, HEADER_NAMESPACE: namespace}}},
    }
    if count > 1:
        out["weight"] = split.percent
    return out


def _resource(doc: Mapping[str, Any]) -> Resource:
    meta = doc["metadata"]
    origin = Origin(path=f"knative://{doc['kind']}/{meta['namespace']}/{meta['name']}")
    return resource_from_document(doc, origin)
