"""IST0118 PortNameIsNotUnderNamingConvention and IST0150 ExternalNameServiceTypeInvalidPortName.

Istio detects a Service port's protocol from `appProtocol`, else from the name prefix (`http-web`,
`grpc`, ...); a port that says neither falls back to protocol sniffing, which IST0118 points out.
Like istioctl's PortNameAnalyzer, Services in the Kubernetes system namespaces and Istio's own control
plane Services (labelled `istio` or `release: istio`) are left alone; an ExternalName Service gets
IST0150 instead, also for a port named plain `tcp`.
https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/
"""

from __future__ import annotations

from typing import Any

from pilot.analysis.messages import EXTERNAL_NAME_INVALID_PORT_NAME, PORT_NAME_CONVENTION, report
from pilot.model.findings import Finding
from pilot.model.registry import protocol_for_port
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot

# The namespaces Istio's injector ignores (inject.IgnoredNamespaces), which the analyzers skip.
# istio-system is not one of them: there only the control plane's own resources are skipped.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})


def is_control_plane(res: Resource) -> bool:
    return "istio" in res.labels or res.labels.get("release") == "istio"


def _unsupported(port: dict[str, Any]) -> bool:
    if port.get("appProtocol"):
        return False
    if str(port.get("protocol") or "TCP").upper() == "UDP":
        return False  # UDP is its own protocol, whatever the name
    return protocol_for_port(str(port.get("name") or "")) == "AUTO"


def port_name_findings(snapshot: MeshSnapshot) -> list[Finding]:
    out = []
    for svc in snapshot.of_kind("Service"):
        if svc.namespace in SYSTEM_NAMESPACES or is_control_plane(svc):
            continue
        external = svc.spec.get("type") == "ExternalName"
        ports = svc.spec.get("ports")
        for i, port in enumerate(ports if isinstance(ports, list) else []):
            if not isinstance(port, dict):
                continue
            name = str(port.get("name") or "")
            if not (_unsupported(port) or (external and name == "tcp")):
                continue
            if external:
                out.append(report(EXTERNAL_NAME_INVALID_PORT_NAME, svc, f"spec.ports[{i}].name"))
            else:
                out.append(report(PORT_NAME_CONVENTION, svc, f"spec.ports[{i}].name", name, port.get("port"),
                                  port.get("targetPort", port.get("port"))))
    return out
