"""ServiceEntry and WorkloadEntry -> registry Services, Workloads and Endpoints.

One ServiceEntry with several hosts becomes one Service per host, all sharing ports and endpoints, as
istiod's conversion does (serviceregistry/serviceentry/conversion.go). Endpoints come from the entry's
`endpoints`, or, with a `workloadSelector`, from the Pods and WorkloadEntries of the entry's namespace.
https://istio.io/latest/docs/reference/config/networking/service-entry/
https://istio.io/latest/docs/reference/config/networking/workload-entry/
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pilot.model.registry import Endpoint, Service, ServicePort, Workload, protocol_for_port
from pilot.model.resource import Resource

ServiceWithEndpoints = tuple[Service, dict[int, tuple[Endpoint, ...]]]

_RESOLUTIONS = ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN")


def workload_from_entry(res: Resource) -> Workload | None:
    """A WorkloadEntry as a workload: its address, labels and service account."""
    address = str(res.spec.get("address") or "")
    if not address:
        return None
    return Workload(name=res.name, namespace=res.namespace, ip=address,
                    labels={str(k): str(v) for k, v in (res.spec.get("labels") or {}).items()},
                    service_account=str(res.spec.get("serviceAccount") or "default"))


def entry_ports(spec: Mapping[str, Any]) -> tuple[ServicePort, ...]:
    ports = []
    for p in spec.get("ports") or []:
        number = int(p.get("number", 0))
        name = str(p.get("name", ""))
        # ServiceEntry ports carry an explicit protocol; without one the name prefix decides, as for Services.
        ports.append(ServicePort(name=name, port=number, target_port=int(p.get("targetPort") or number),
                                 protocol=protocol_for_port(name, str(p.get("protocol") or ""))))
    return tuple(ports)


def _endpoint_port(sp: ServicePort, ep_ports: Mapping[str, Any]) -> int:
    # An endpoint's `ports` maps the service port *name* to the port it listens on.
    return int(ep_ports.get(sp.name) or sp.target_port)


def _explicit_endpoints(spec: Mapping[str, Any], sp: ServicePort, namespace: str) -> list[Endpoint]:
    out = []
    for ep in spec.get("endpoints") or []:
        address = str(ep.get("address") or "")
        if not address or address.startswith("unix://"):
            continue
        out.append(Endpoint(address=address, port=_endpoint_port(sp, ep.get("ports") or {}),
                            labels={str(k): str(v) for k, v in (ep.get("labels") or {}).items()},
                            service_account=str(ep.get("serviceAccount") or ""), namespace=namespace))
    return out


def _selected_endpoints(selector: Mapping[str, str], sp: ServicePort, namespace: str,
                        workloads: Iterable[Workload], entry_workloads: Mapping[str, Resource]
                        ) -> list[Endpoint]:
    out = []
    for w in workloads:
        if w.namespace != namespace or not selector or not w.matches(selector):
            continue
        we = entry_workloads.get(f"{w.namespace}/{w.name}")
        ports = (we.spec.get("ports") or {}) if we is not None else {}
        out.append(Endpoint(address=w.ip, port=_endpoint_port(sp, ports), labels=w.labels,
                            service_account=w.service_account, namespace=w.namespace, workload=w.name))
    return out


def services_from_entry(res: Resource, workloads: Iterable[Workload],
                        entry_workloads: Mapping[str, Resource] | None = None,
                        domain_suffix: str = "svc.cluster.local") -> list[ServiceWithEndpoints]:
    """The Services (one per host) and their endpoints per port that one ServiceEntry declares.

    `workloads` are Pods and WorkloadEntries; `entry_workloads` maps `ns/name` of WorkloadEntries so
    their per-port overrides apply.
    """
    spec = res.spec
    resolution = str(spec.get("resolution") or "NONE").upper()
    if resolution not in _RESOLUTIONS:
        resolution = "NONE"
    if resolution == "DNS_ROUND_ROBIN":
        resolution = "DNS"  # LOGICAL_DNS in Istio; STRICT_DNS is a safe superset for our clusters
    ports = entry_ports(spec)
    selector = {str(k): str(v) for k, v in ((spec.get("workloadSelector") or {}).get("labels") or {}).items()}
    workloads = list(workloads)
    eps_by_port: dict[int, tuple[Endpoint, ...]] = {}
    for sp in ports:
        if selector:
            eps = _selected_endpoints(selector, sp, res.namespace, workloads, entry_workloads or {})
        else:
            eps = _explicit_endpoints(spec, sp, res.namespace)
        eps_by_port[sp.port] = tuple(sorted(eps, key=lambda e: (e.address, e.port)))
    export_to = tuple(str(e) for e in spec.get("exportTo") or ["*"])
    out: list[ServiceWithEndpoints] = []
    for host in spec.get("hosts") or []:
        hostname = str(host)
        if "." not in hostname and "*" not in hostname:
            hostname = f"{hostname}.{res.namespace}.{domain_suffix}"
        svc = Service(name=hostname, namespace=res.namespace, hostname=hostname, ports=ports,
                      selector=selector, mesh_external=str(spec.get("location") or "") == "MESH_EXTERNAL",
                      resolution=resolution,
                      addresses=tuple(str(a) for a in spec.get("addresses") or []), export_to=export_to)
        out.append((svc, dict(eps_by_port)))
    return out


def registry_from_entries(by_kind: Mapping[str, list[Resource]], pod_workloads: Iterable[Workload],
                          domain_suffix: str = "svc.cluster.local"
                          ) -> tuple[tuple[Workload, ...], list[ServiceWithEndpoints]]:
    """WorkloadEntries as workloads, and every ServiceEntry's services (oldest entry first)."""
    entries = by_kind.get("WorkloadEntry", [])
    we_workloads = tuple(w for w in (workload_from_entry(e) for e in entries) if w)
    by_name = {f"{e.namespace}/{e.name}": e for e in entries}
    everyone = [*pod_workloads, *we_workloads]
    services: list[ServiceWithEndpoints] = []
    ordered = sorted(by_kind.get("ServiceEntry", []),
                     key=lambda r: (r.creation_timestamp or "~", r.namespace, r.name))
    for se in ordered:
        services.extend(services_from_entry(se, everyone, by_name, domain_suffix))
    return we_workloads, services
