"""The listener ports a proxy's Sidecar resource asks for (captureMode NONE on loopback)."""

from __future__ import annotations

from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource


def ingress_ports(sidecar: Resource | None, view: ProxyView) -> list[tuple[int, str]]:
    """(port, defaultEndpoint) per Sidecar ingress entry that applies to this workload."""
    if sidecar is None or view.is_gateway:
        return []
    out = []
    for ing in sidecar.spec.get("ingress") or []:
        port = int((ing.get("port") or {}).get("number", 0))
        endpoint = str(ing.get("defaultEndpoint") or "")
        if port and endpoint and not endpoint.startswith("unix://"):
            out.append((port, endpoint))
    return out


def ingress_entries(sidecar: Resource | None, view: ProxyView) -> list[dict]:
    if sidecar is None or view.is_gateway:
        return []
    return [dict(i) for i in sidecar.spec.get("ingress") or []
            if (i.get("port") or {}).get("number") and i.get("defaultEndpoint")]


def egress_listeners(sidecar: Resource | None) -> list[tuple[str, int, str]]:
    """(bind, port, protocol) for each egress listener with an explicit bind and port."""
    if sidecar is None:
        return []
    out = []
    for eg in sidecar.spec.get("egress") or []:
        port = eg.get("port") or {}
        if port.get("number") and eg.get("bind"):
            out.append((str(eg["bind"]), int(port["number"]), str(port.get("protocol", "HTTP")).upper()))
    return out
