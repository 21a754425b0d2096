"""The config dump of one pod translated from files, as `/debug/config_dump` would serve it.

Also names the DestinationRule and VirtualService behind each host from the same snapshot, which the
summary tables show when the generated resources carry no `istio.config` metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, symbol_database

from pilot.model.gateway import gateway_virtual_services, gateways_for
from pilot.model.proxy import NodeId, ProxyView
from pilot.model.resource import Resource
from pilot.model.scope import destination_rule_for, host_matches, virtual_service_for
from pilot.model.snapshot import MeshSnapshot
from pilot.simulate.engine import find_workload
from pilot.translate.generate import generate


@dataclass(frozen=True)
class OfflineProxy:
    snapshot: MeshSnapshot
    view: ProxyView
    dump: dict[str, dict[str, dict[str, Any]]]

    def destination_rule(self, host: str) -> str:
        dr = destination_rule_for(self.snapshot, self.view, host)
        return f"{dr.name}.{dr.namespace}" if dr else ""

    def virtual_service(self, host: str) -> str:
        vs = self._gateway_virtual_service(host) if self.view.is_gateway else \
            virtual_service_for(self.snapshot, self.view, host)
        return f"{vs.name}.{vs.namespace}" if vs else ""

    def _gateway_virtual_service(self, host: str) -> Resource | None:
        """The oldest VirtualService bound to a Gateway of this proxy with a host on this virtual host."""
        for gw in gateways_for(self.snapshot, self.view):
            for vs in gateway_virtual_services(self.snapshot, self.view, f"{gw.namespace}/{gw.name}"):
                if any(host_matches(str(h), host) or host_matches(host, str(h)) for h in vs.spec.get("hosts") or []):
                    return vs
        return None


def translate_pod(snapshot: MeshSnapshot, pod: str, proxy_type: str = "sidecar") -> OfflineProxy:
    """`pod` is POD.NAMESPACE (or POD in default); raises SimulationError (a ValueError) if unknown.
    `proxy_type` is the node id's first field: "router" for a gateway (the pod cannot tell)."""
    w = find_workload(snapshot, pod)
    view = snapshot.proxy_view(NodeId(proxy_type, w.ip, w.name, w.namespace, f"{w.namespace}.svc.cluster.local"))
    dump: dict[str, dict[str, dict[str, Any]]] = {}
    for type_url, by_name in generate(snapshot, view).items():
        cls = symbol_database.Default().GetSymbol(type_url.split("/")[-1])
        dump[type_url] = {}
        for name, packed in by_name.items():
            msg = cls()
            packed.Unpack(msg)
            dump[type_url][name] = json_format.MessageToDict(msg)
    return OfflineProxy(snapshot, view, dump)
