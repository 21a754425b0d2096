"""Services, workloads and endpoints: the registry view of the mesh, derived from Kubernetes objects.

Endpoints come from EndpointSlices when a Service has any, otherwise from running Pods matching the
Service selector, as Kubernetes' endpoints controller would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pilot.model.resource import Resource

DEFAULT_DOMAIN_SUFFIX = "svc.cluster.local"

# Istio's protocol selection: `appProtocol`, else the port name prefix `<protocol>[-suffix]`.
# https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/
_PROTOCOL_PREFIXES = {
    "http": "HTTP", "http2": "HTTP2", "https": "HTTPS", "grpc": "GRPC", "grpc-web": "GRPC-Web",
    "tcp": "TCP", "tls": "TLS", "mongo": "Mongo", "mysql": "MySQL", "redis": "Redis", "udp": "UDP",
}
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-Web", "AUTO"})


def protocol_for_port(name: str, app_protocol: str = "") -> str:
    if app_protocol:
        return _PROTOCOL_PREFIXES.get(app_protocol.lower(), app_protocol.upper())
    if not name:
        return "AUTO"
    prefix = name.lower().split("-", 1)[0]
    if name.lower().startswith("grpc-web"):
        return "GRPC-Web"
    return _PROTOCOL_PREFIXES.get(prefix, "AUTO")


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int
    protocol: str = "AUTO"

    @property
    def is_http(self) -> bool:
        return self.protocol in HTTP_PROTOCOLS


@dataclass(frozen=True)
class Service:
    """A mesh service. `hostname` is the FQDN (`reviews.default.svc.cluster.local`)."""

    name: str
    namespace: str
    hostname: str
    ports: tuple[ServicePort, ...]
    selector: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    mesh_external: bool = False
    resolution: str = "STATIC"  # STATIC (EDS) | DNS | NONE
    addresses: tuple[str, ...] = ()
    export_to: tuple[str, ...] = ("*",)
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    # Kubernetes `spec.clusterIP` ("" when absent or headless `None`): the VIP captured sidecars match
    # TCP traffic on (captured-layout.md) and an HTTP Host the route configuration answers to.
    cluster_ip: str = ""

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)

    def short_names(self) -> tuple[str, ...]:
        """`name`, `name.ns`, `name.ns.svc` for Kubernetes services; nothing for other hosts."""
        if not self.hostname.endswith("." + DEFAULT_DOMAIN_SUFFIX):
            return ()
        return (self.name, f"{self.name}.{self.namespace}", f"{self.name}.{self.namespace}.svc")


@dataclass(frozen=True)
class Workload:
    """A pod (or WorkloadEntry): the identity a sidecar takes its labels and service account from."""

    name: str
    namespace: str
    ip: str
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    service_account: str = "default"
    container_ports: tuple[int, ...] = ()

    def matches(self, selector: Mapping[str, str]) -> bool:
        return all(self.labels.get(k) == v for k, v in selector.items())


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    service_account: str = ""
    namespace: str = ""
    workload: str = ""
    ready: bool = True


def mappings(value: object) -> list[Mapping]:
    """The object items of a list. Pods and EndpointSlices from files are not checked by an API
    server: a list may be missing, a scalar, or hold nulls and strings; those items mean nothing."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def service_from_resource(res: Resource, domain_suffix: str = DEFAULT_DOMAIN_SUFFIX) -> Service:
    spec = res.spec
    ports = []
    for p in spec.get("ports") or []:
        number = int(p.get("port", 0))
        target = p.get("targetPort", number)
        ports.append(ServicePort(
            name=str(p.get("name", "")),
            port=number,
            target_port=int(target) if isinstance(target, int) or str(target).isdigit() else number,
            protocol=protocol_for_port(str(p.get("name", "")), str(p.get("appProtocol", ""))),
        ))
    return Service(
        name=res.name, namespace=res.namespace, hostname=f"{res.name}.{res.namespace}.{domain_suffix}",
        ports=tuple(ports), selector=dict(spec.get("selector") or {}), labels=dict(res.labels),
        cluster_ip=_cluster_ip(spec),
    )


def _cluster_ip(spec: Mapping[str, object]) -> str:
    ip = str(spec.get("clusterIP") or "")
    return "" if ip.lower() == "none" else ip


def workload_from_pod(res: Resource) -> Workload | None:
    ip = str((res.status or {}).get("podIP") or "")
    if not ip:
        return None
    spec = res.spec
    ports = tuple(cp["containerPort"] for c in mappings(spec.get("containers"))
                  for cp in mappings(c.get("ports")) if type(cp.get("containerPort")) is int)
    return Workload(name=res.name, namespace=res.namespace, ip=ip, labels=dict(res.labels),
                    service_account=str(spec.get("serviceAccountName") or spec.get("serviceAccount")
                                        or "default"),
                    container_ports=ports)


def endpoints_for_service(service: Service, workloads: Iterable[Workload],
                          slices: Iterable[Resource]) -> dict[int, tuple[Endpoint, ...]]:
    """Endpoints per service port number."""
    by_ip = {w.ip: w for w in workloads if w.namespace == service.namespace}
    own_slices = [s for s in slices if s.namespace == service.namespace
                  and s.labels.get("kubernetes.io/service-name") == service.name]
    selected = [w for w in by_ip.values() if w.matches(service.selector)] if service.selector else []
    return service_endpoints(service, by_ip, own_slices, selected)


def service_endpoints(service: Service, by_ip: Mapping[str, Workload], own_slices: list[Resource],
                      selected: Iterable[Workload]) -> dict[int, tuple[Endpoint, ...]]:
    """Endpoints per service port from the service's own EndpointSlices, else from the workloads its
    selector picked (`selected`, one per IP); `by_ip` are the workloads of its namespace by IP."""
    result: dict[int, tuple[Endpoint, ...]] = {}
    picked = sorted(selected, key=lambda w: w.ip)
    for sp in service.ports:
        if own_slices:
            result[sp.port] = _endpoints_from_slices(sp, own_slices, by_ip)
        elif service.selector:
            result[sp.port] = tuple(
                Endpoint(address=w.ip, port=sp.target_port, labels=w.labels,
                         service_account=w.service_account, namespace=w.namespace, workload=w.name)
                for w in picked)
        else:
            result[sp.port] = ()
    return result


def _endpoints_from_slices(sp: ServicePort, slices: list[Resource],
                           by_ip: Mapping[str, Workload]) -> tuple[Endpoint, ...]:
    out: list[Endpoint] = []
    for s in slices:
        body = s.body
        port = next((p["port"] if type(p.get("port")) is int else sp.target_port  # `port:` may be null
                     for p in mappings(body.get("ports")) if str(p.get("name", "")) == sp.name), sp.target_port)
        for ep in mappings(body.get("endpoints")):
            conditions = ep.get("conditions")
            ready = not isinstance(conditions, Mapping) or conditions.get("ready", True) is not False
            for addr in ep.get("addresses") or []:
                w = by_ip.get(str(addr))
                out.append(Endpoint(address=str(addr), port=port, labels=w.labels if w else {},
                                    service_account=w.service_account if w else "",
                                    namespace=s.namespace, workload=w.name if w else "", ready=ready))
    return tuple(sorted(out, key=lambda e: (e.address, e.port)))
