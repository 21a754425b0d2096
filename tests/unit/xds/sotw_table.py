"""A tiny table runner for the SotW state machine: steps in, expected sends out."""

from __future__ import annotations

from dataclasses import dataclass, field

from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import status_pb2

from pilot.xds.cache import ResourceCache
from pilot.xds.stream import SotwStream
from pilot.xds.types import SHORT

LAST = "<last nonce of this type>"
TYPES = {short: url for url, short in SHORT.items()}


@dataclass
class Req:
    type: str  # short name: cds, eds, ...
    names: tuple[str, ...] = ()
    nonce: str = ""
    version: str = ""
    error: str | None = None
    expect: str | None = None  # OutcomeKind value
    sends: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (type, names) in order


@dataclass
class Push:
    resources: dict[str, dict[str, object]]
    sends: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


class Runner:
    def __init__(self, node_id: str = "n") -> None:
        self.cache = ResourceCache()
        self.machine = SotwStream()
        self.node_id = node_id
        self.last_nonce: dict[str, str] = {}
        self.last_version: dict[str, str] = {}
        self.sent_versions: list[tuple[str, str]] = []

    def run(self, steps: list[Req | Push]) -> None:
        for index, step in enumerate(steps):
            if isinstance(step, Push):
                self.cache.set_node_resources(self.node_id, {TYPES[t]: r for t, r in step.resources.items()})
            else:
                outcome = self.machine.handle(self.request(step))
                if step.expect is not None:
                    assert outcome.kind.value == step.expect, f"step {index}: {outcome}"
            responses = self.machine.responses(self.cache.get(self.node_id))
            got = [(SHORT[r.type_url], tuple(r.names)) for r in responses]
            assert got == step.sends, f"step {index} ({step}): sent {got}"
            for r in responses:
                self.last_nonce[SHORT[r.type_url]] = r.nonce
                self.last_version[SHORT[r.type_url]] = r.version
                self.sent_versions.append((SHORT[r.type_url], r.version))

    def request(self, step: Req) -> discovery_pb2.DiscoveryRequest:
        request = discovery_pb2.DiscoveryRequest(
            type_url=TYPES[step.type],
            resource_names=list(step.names),
            response_nonce=self.last_nonce.get(step.type, "") if step.nonce == LAST else step.nonce,
            version_info=step.version,
        )
        if step.error is not None:
            request.error_detail.CopyFrom(status_pb2.Status(code=13, message=step.error))
        return request
