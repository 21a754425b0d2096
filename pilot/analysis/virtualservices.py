"""VirtualService analyzers: destination hosts, mirrors and subsets (IST0101), gateways (IST0101) and
hosts a bound gateway does not serve (IST0132), two mesh VirtualServices for one host (IST0109).
Unreachable rules and duplicate matches (IST0130/IST0131) live in `routes`.

Hosts and DestinationRules are looked up as seen from the VirtualService's namespace, so a host or
subset exported elsewhere only (`exportTo`) is not found, as in istioctl's DestinationHostAnalyzer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pilot.analysis.hosts import destination_rules_for_host, export_scopes, host_known
from pilot.analysis.messages import (
    CONFLICTING_MESH_GATEWAY_HOSTS,
    DESTINATION_PORT_SELECTOR_REQUIRED,
    REFERENCED_RESOURCE_NOT_FOUND,
    VS_HOST_NOT_IN_GATEWAY,
    report,
)
from pilot.analysis.routes import ROUTE_KINDS, route_rule_findings
from pilot.model.findings import Finding
from pilot.model.resource import Resource
from pilot.model.scope import host_matches, resolve_host, vs_gateways
from pilot.model.snapshot import MeshSnapshot


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _destinations(vs: Resource) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(what, field, destination) for every route destination and http mirror."""
    for kind in ROUTE_KINDS:
        for i, rule in enumerate(_items(vs.spec.get(kind))):
            if not isinstance(rule, dict):
                continue
            for j, dest in enumerate(_items(rule.get("route"))):
                if isinstance(dest, dict) and isinstance(dest.get("destination"), dict):
                    yield "host", f"spec.{kind}[{i}].route[{j}].destination", dest["destination"]
            if kind != "http":
                continue
            if isinstance(rule.get("mirror"), dict):
                yield "mirror host", f"spec.http[{i}].mirror", rule["mirror"]
            for j, mirror in enumerate(_items(rule.get("mirrors"))):
                if isinstance(mirror, dict) and isinstance(mirror.get("destination"), dict):
                    yield "mirror host", f"spec.http[{i}].mirrors[{j}].destination", mirror["destination"]


def destination_findings(snapshot: MeshSnapshot, vs: Resource) -> list[Finding]:
    out = []
    suffix = snapshot.mesh.domain_suffix
    for what, field, dest in _destinations(vs):
        raw = str(dest.get("host") or "")
        if not raw or "*" in raw:
            continue
        host = resolve_host(raw, vs.namespace, suffix)
        if not host_known(snapshot, host, vs.namespace):
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"{field}.host", what, raw))
            continue
        out += _port_findings(snapshot, vs, field, raw, host, dest)
        subset = str(dest.get("subset") or "")
        rules = destination_rules_for_host(snapshot, host, vs.namespace)
        if subset and not any(isinstance(s, dict) and subset == str(s.get("name"))
                              for dr in rules for s in _items(dr.spec.get("subsets"))):
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"{field}.subset",
                              "host+subset in destinationrule", f"{raw}+{subset}"))
    return out


def _port_findings(snapshot: MeshSnapshot, vs: Resource, field: str, raw: str, host: str,
                   dest: dict[str, Any]) -> list[Finding]:
    """Istio's checkServiceEntryPorts: a destination to a multi-port service names its port (IST0112),
    and a named port exists on the service (IST0101 host:port)."""
    svc = snapshot.services.get(host)
    if svc is None:
        return []  # a wildcard ServiceEntry host: no port list to check against
    numbers = [p.port for p in svc.ports]
    port = dest.get("port")
    number = port.get("number") if isinstance(port, dict) else None
    if number is None:
        if len(numbers) > 1:
            return [report(DESTINATION_PORT_SELECTOR_REQUIRED, vs, field, raw, "[" + " ".join(map(str, numbers)) + "]")]
        return []
    if number not in numbers:
        return [report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"{field}.port", "host:port", f"{raw}:{number}")]
    return []


def _full_gateway_name(name: str, namespace: str) -> str:
    return name if "/" in name else f"{namespace}/{name}"


def _gateway_hosts(gw: Resource, vs_namespace: str) -> list[str]:
    """A Gateway's server hosts as seen from `vs_namespace`: `ns/host` entries for another namespace
    are dropped, `*/host` and `./host` (the gateway's own namespace) are reduced to the host."""
    hosts = []
    for server in _items(gw.spec.get("servers")):
        for entry in _items(server.get("hosts") if isinstance(server, dict) else None):
            ns, _, name = str(entry).rpartition("/")
            ns = gw.namespace if ns == "." else ns
            if ns in ("", "*", vs_namespace):
                hosts.append(name)
    return hosts


def gateway_findings(snapshot: MeshSnapshot, vs: Resource) -> list[Finding]:
    gateways = {f"{g.namespace}/{g.name}": g for g in snapshot.of_kind("Gateway")}
    vs_hosts = [str(h) for h in _items(vs.spec.get("hosts"))]
    out = []
    for i, name in enumerate(vs_gateways(vs)):
        if name == "mesh":
            continue
        full = _full_gateway_name(name, vs.namespace)
        gw = gateways.get(full)
        if gw is None:
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, vs, f"spec.gateways[{i}]", "gateway", name))
        gw_hosts = _gateway_hosts(gw, vs.namespace) if gw else []
        # Istio's vsHostInGateway: either side may be the wildcard one.
        if not any(host_matches(g, h) or host_matches(h, g) for g in gw_hosts for h in vs_hosts):
            hosts = "[" + " ".join(vs_hosts) + "]"
            out.append(report(VS_HOST_NOT_IN_GATEWAY, vs, f"spec.gateways[{i}]", hosts,
                              f"{vs.namespace}/{vs.name}", full))
    return out


def conflicting_mesh_hosts(snapshot: MeshSnapshot) -> list[Finding]:
    """Istio's ConflictingMeshGatewayHostsAnalyzer: mesh VirtualServices keyed by (export scope, host);
    two exported to the same scope for the same host conflict."""
    by_host: dict[tuple[str, str], dict[str, Resource]] = {}
    for vs in snapshot.of_kind("VirtualService"):
        if "mesh" not in vs_gateways(vs):
            continue
        export = vs.spec.get("exportTo")
        for scope in sorted(export_scopes(export if isinstance(export, list) else [], vs.namespace)):
            for h in _items(vs.spec.get("hosts")):
                host = resolve_host(str(h), vs.namespace, snapshot.mesh.domain_suffix)
                by_host.setdefault((scope, host), {})[f"{vs.namespace}/{vs.name}"] = vs
    out: list[Finding] = []
    for (_, host), owners in sorted(by_host.items()):
        if len(owners) < 2:
            continue
        names = ",".join(owners)
        out.extend(report(CONFLICTING_MESH_GATEWAY_HOSTS, vs, "spec.hosts", names, host) for vs in owners.values())
    return out


def analyze_virtual_services(snapshot: MeshSnapshot) -> list[Finding]:
    out: list[Finding] = []
    for vs in snapshot.of_kind("VirtualService"):
        out += destination_findings(snapshot, vs) + gateway_findings(snapshot, vs) + route_rule_findings(vs)
    return out + conflicting_mesh_hosts(snapshot)
