"""Which Gateway servers an ingress gateway proxy serves, merged per listener, and the VirtualServices
bound to each server. Pure lookups over a snapshot.

- Gateway: https://istio.io/latest/docs/reference/config/networking/gateway/ (a Gateway applies to the
  gateway pods its `selector` matches, in any namespace).
- A server's `port.number` names a port of the gateway's Service; like istiod (model/gateway.go
  resolvePorts) we listen on that Service port's targetPort, so an unprivileged gateway can serve `80`.
- VirtualServices bind with `gateways: [<ns>/<name>]` (a bare name is relative to the VirtualService's
  namespace). Several VirtualServices for one host on a gateway are merged, oldest first, which Istio
  supports for gateways only (IST0109).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.scope import exported_to, host_matches, virtual_service_hosts
from pilot.model.snapshot import MeshSnapshot

HTTP_SERVER_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB"})


@dataclass(frozen=True)
class GatewayServer:
    """One `servers[]` entry of a Gateway, with the port the proxy actually listens on."""

    gateway: str  # "<ns>/<name>" of the Gateway resource
    index: int
    number: int  # port.number as written
    listen_port: int
    port_name: str
    protocol: str
    hosts: tuple[str, ...]
    bind: str = ""
    tls: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def gateway_name(self) -> str:
        return self.gateway.split("/", 1)[1]

    @property
    def gateway_namespace(self) -> str:
        return self.gateway.split("/", 1)[0]

    @property
    def tls_mode(self) -> str:
        return str(self.tls.get("mode") or "") if self.tls else ""

    @property
    def terminates_http(self) -> bool:
        """HTTP, or HTTPS/TLS terminated here (anything but passthrough), carries HTTP routes."""
        if self.protocol in HTTP_SERVER_PROTOCOLS:
            return True
        return self.protocol == "HTTPS" and self.tls_mode not in ("PASSTHROUGH", "AUTO_PASSTHROUGH")

    @property
    def is_tls(self) -> bool:
        return self.protocol in ("HTTPS", "TLS")

    def host_names(self) -> tuple[str, ...]:
        """Hosts without their `ns/` prefix (Gateway hosts may be `ns/dnsName`)."""
        return tuple(h.split("/", 1)[1] if "/" in h else h for h in self.hosts)


def gateways_for(snapshot: MeshSnapshot, view: ProxyView) -> list[Resource]:
    if not view.is_gateway:
        return []
    return [g for g in snapshot.of_kind("Gateway")
            if view.matches({str(k): str(v) for k, v in (g.spec.get("selector") or {}).items()})]


def _listen_port(snapshot: MeshSnapshot, view: ProxyView, number: int) -> int:
    for svc in snapshot.services.values():
        if svc.namespace != view.namespace or not svc.selector or not view.matches(dict(svc.selector)):
            continue
        sp = svc.port(number)
        if sp is not None:
            return sp.target_port
    return number


def gateway_servers(snapshot: MeshSnapshot, view: ProxyView) -> list[GatewayServer]:
    out = []
    for gw in gateways_for(snapshot, view):
        for i, server in enumerate(gw.spec.get("servers") or []):
            port = server.get("port") or {}
            number = int(port.get("number", 0))
            if not number:
                continue
            out.append(GatewayServer(
                gateway=f"{gw.namespace}/{gw.name}", index=i, number=number,
                listen_port=_listen_port(snapshot, view, number), port_name=str(port.get("name") or ""),
                protocol=str(port.get("protocol") or "HTTP").upper(),
                hosts=tuple(str(h) for h in server.get("hosts") or ["*"]),
                bind=str(server.get("bind") or ""), tls=dict(server.get("tls") or {})))
    return out


def servers_by_listener(snapshot: MeshSnapshot, view: ProxyView) -> dict[tuple[str, int], list[GatewayServer]]:
    """Servers grouped by (bind address, listen port); the address is the pod IP unless `bind` is set."""
    grouped: dict[tuple[str, int], list[GatewayServer]] = {}
    for s in gateway_servers(snapshot, view):
        grouped.setdefault((s.bind or view.ip, s.listen_port), []).append(s)
    return grouped


def binds_to(vs: Resource, gateway: str) -> bool:
    for g in vs.spec.get("gateways") or []:
        full = str(g) if "/" in str(g) else f"{vs.namespace}/{g}"
        if full == gateway:
            return True
    return False


def gateway_virtual_services(snapshot: MeshSnapshot, view: ProxyView, gateway: str) -> list[Resource]:
    """VirtualServices bound to `gateway` (`ns/name`) and exported to the gateway proxy, oldest first."""
    return [vs for vs in snapshot.of_kind("VirtualService")
            if binds_to(vs, gateway) and exported_to(vs.spec, vs.namespace, view.namespace)]


def host_intersection(vs_host: str, server_hosts: tuple[str, ...]) -> str:
    """The host a VirtualService host serves on a server: the more specific of two matching names."""
    for sh in server_hosts:
        if host_matches(sh, vs_host):
            return vs_host
        if host_matches(vs_host, sh):
            return sh
    return ""


def hosts_on_server(snapshot: MeshSnapshot, view: ProxyView, server: GatewayServer
                    ) -> dict[str, list[Resource]]:
    """host -> VirtualServices (oldest first) routing it on this server."""
    out: dict[str, list[Resource]] = {}
    for vs in gateway_virtual_services(snapshot, view, server.gateway):
        for h in virtual_service_hosts(vs, snapshot.mesh.domain_suffix):
            host = host_intersection(h, server.host_names())
            if host and vs not in out.setdefault(host, []):
                out[host].append(vs)
    return out
