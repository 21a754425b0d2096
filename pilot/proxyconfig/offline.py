"""The config dump of one pod translated from files, as `/debug/config_dump` would serve it.

Also names the DestinationRule and VirtualService behind each host from the same snapshot, which the
summary tables show when the generated resources carry no `istio.config` metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, symbol_database

from pilot.model.proxy import ProxyView
from pilot.model.scope import destination_rule_for, virtual_service_for
from pilot.model.snapshot import MeshSnapshot
from pilot.simulate.engine import find_workload, view_of
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
        vs = virtual_service_for(self.snapshot, self.view, host)
        return f"{vs.name}.{vs.namespace}" if vs else ""


def translate_pod(snapshot: MeshSnapshot, pod: str) -> OfflineProxy:
    """`pod` is POD.NAMESPACE (or POD in default); raises SimulationError (a ValueError) if unknown."""
    view = view_of(snapshot, find_workload(snapshot, pod))
    dump: dict[str, dict[str, dict[str, Any]]] = {}
    for type_url, by_name in generate(snapshot, view).items():
        cls = symbol_database.Default().GetSymbol(type_url.split("/")[-1])
        dump[type_url] = {}
        for name, packed in by_name.items():
            msg = cls()
            packed.Unpack(msg)
            dump[type_url][name] = json_format.MessageToDict(msg)
    return OfflineProxy(snapshot, view, dump)
