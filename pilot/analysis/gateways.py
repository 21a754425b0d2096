"""Gateway analyzers (Istio's networking.istio.io Gateway; Gateway API kinds are not read here):

- IST0101 selector: no Pod matches `spec.selector` (istioctl's IngressGatewayPortAnalyzer);
- IST0104: a server port that no Service selecting the gateway pods exposes (TCP ports only);
- IST0101 credentialName: a TLS server's secret is missing from the gateway pods' namespace
  (istioctl's SecretAnalyzer; `ns/name` names another namespace);
- IST0145: two Gateways with the same selector serve the same port and an overlapping host.
https://istio.io/latest/docs/reference/config/analysis/ist0104/
"""

from __future__ import annotations

from typing import Any

from pilot.analysis.messages import (
    CONFLICTING_GATEWAYS,
    GATEWAY_PORT_NOT_ON_WORKLOAD,
    REFERENCED_RESOURCE_NOT_FOUND,
    labels_text,
    report,
)
from pilot.analysis.pods import analysis_workloads
from pilot.model.findings import Finding
from pilot.model.registry import Workload
from pilot.model.resource import Resource
from pilot.model.scope import host_matches
from pilot.model.snapshot import MeshSnapshot


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _selector(gw: Resource) -> dict[str, str]:
    sel = gw.spec.get("selector")
    return {str(k): str(v) for k, v in sel.items()} if isinstance(sel, dict) else {}


def _servers(gw: Resource) -> list[dict[str, Any]]:
    return [s for s in _items(gw.spec.get("servers")) if isinstance(s, dict)]


def _port_number(server: dict[str, Any]) -> int | None:
    port = server.get("port")
    number = port.get("number") if isinstance(port, dict) else None
    return number if isinstance(number, int) else None


def _service_ports(snapshot: MeshSnapshot, pods: list[Workload]) -> set[int]:
    """TCP ports of the Services (in each pod's namespace) whose selector matches a gateway pod."""
    ports: set[int] = set()
    for svc in snapshot.of_kind("Service"):
        sel = svc.spec.get("selector")
        if not isinstance(sel, dict) or not sel:
            continue
        if any(p.namespace == svc.namespace and p.matches({str(k): str(v) for k, v in sel.items()}) for p in pods):
            ports |= {int(p["port"]) for p in _items(svc.spec.get("ports"))
                      if isinstance(p, dict) and isinstance(p.get("port"), int)
                      and str(p.get("protocol") or "TCP").upper() == "TCP"}
    return ports


def _secret_exists(snapshot: MeshSnapshot, namespace: str, credential: str) -> bool:
    ns, _, name = credential.rpartition("/")
    return any(s.namespace == (ns or namespace) and s.name == name for s in snapshot.of_kind("Secret"))


def gateway_workload_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out: list[Finding] = []
    workloads = analysis_workloads(snapshot)
    for gw in snapshot.of_kind("Gateway"):
        selector = _selector(gw)
        pods = [w for w in workloads if w.matches(selector)]
        if not pods:
            out.append(report(REFERENCED_RESOURCE_NOT_FOUND, gw, "spec.selector", "selector", labels_text(selector)))
            continue
        offered = _service_ports(snapshot, pods)
        for i, server in enumerate(_servers(gw)):
            number = _port_number(server)
            if number is not None and number not in offered:
                out.append(report(GATEWAY_PORT_NOT_ON_WORKLOAD, gw, f"spec.servers[{i}].port", labels_text(selector),
                                  number))
        # Istio takes the namespace of the first gateway pod as where the credentials live.
        pod_ns = pods[0].namespace
        for i, server in enumerate(_servers(gw)):
            tls = server.get("tls")
            credential = str(tls.get("credentialName") or "") if isinstance(tls, dict) else ""
            if credential and not _secret_exists(snapshot, pod_ns, credential):
                out.append(report(REFERENCED_RESOURCE_NOT_FOUND, gw, f"spec.servers[{i}].tls.credentialName",
                                  "credentialName", credential))
    return out


def conflicting_gateway_findings(snapshot: MeshSnapshot) -> list[Finding]:
    """Istio's ConflictingGatewayAnalyzer: same selector, same port, an overlapping host."""
    gateways = snapshot.of_kind("Gateway")
    out: list[Finding] = []
    for gw in gateways:
        selector = _selector(gw)
        for server in _servers(gw):
            number = _port_number(server)
            hosts = [str(h).rpartition("/")[2] for h in _items(server.get("hosts"))]
            others = sorted({f"{o.namespace}/{o.name}" for o in gateways if o is not gw and _selector(o) == selector
                             for s in _servers(o) if _port_number(s) == number
                             for h in _items(s.get("hosts")) for mine in hosts
                             if host_matches(mine, str(h).rpartition("/")[2])
                             or host_matches(str(h).rpartition("/")[2], mine)})
            if others:
                out.append(report(CONFLICTING_GATEWAYS, gw, "spec.servers", ",".join(others), labels_text(selector),
                                  number, "[" + " ".join(hosts) + "]"))
    return out


def analyze_gateways(snapshot: MeshSnapshot) -> list[Finding]:
    return gateway_workload_findings(snapshot) + conflicting_gateway_findings(snapshot)
