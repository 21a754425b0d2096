"""Table tests of the delta ADS state machine (no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import status_pb2

from pilot.testing.xds_resources import cluster, endpoints
from pilot.xds.cache import ResourceCache
from pilot.xds.delta import DeltaStream
from pilot.xds.types import CLUSTER, SHORT

LAST = "<last>"
TYPES = {short: url for url, short in SHORT.items()}
A, A2, B = cluster("a"), cluster("a", connect_timeout="2s"), cluster("b")
EA, EB = endpoints("a"), endpoints("b")
BASE = {"cds": {"a": A, "b": B}, "eds": {"a": EA, "b": EB}}


@dataclass
class Req:
    type: str
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    nonce: str = ""
    error: str | None = None
    initial: dict[str, str] = field(default_factory=dict)
    expect: str | None = None
    sends: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=list
    )  # type, names, removed


@dataclass
class Push:
    resources: dict[str, dict[str, object]]
    sends: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)


class Runner:
    def __init__(self) -> None:
        self.cache = ResourceCache()
        self.machine = DeltaStream()
        self.last_nonce: dict[str, str] = {}
        self.versions: dict[str, str] = {}

    def run(self, steps: list[Req | Push]) -> None:
        for index, step in enumerate(steps):
            if isinstance(step, Push):
                self.cache.set_node_resources("n", {TYPES[t]: r for t, r in step.resources.items()})
            else:
                request = discovery_pb2.DeltaDiscoveryRequest(
                    type_url=TYPES[step.type],
                    resource_names_subscribe=list(step.subscribe),
                    resource_names_unsubscribe=list(step.unsubscribe),
                    response_nonce=self.last_nonce.get(step.type, "") if step.nonce == LAST else step.nonce,
                    initial_resource_versions=step.initial,
                )
                if step.error is not None:
                    request.error_detail.CopyFrom(status_pb2.Status(code=13, message=step.error))
                outcome = self.machine.handle(request)
                if step.expect is not None:
                    assert outcome.kind.value == step.expect, f"step {index}: {outcome}"
            responses = self.machine.responses(self.cache.get("n"))
            got = [(SHORT[r.type_url], tuple(r.names), tuple(r.removed)) for r in responses]
            assert got == step.sends, f"step {index} ({step}): sent {got}"
            for r in responses:
                self.last_nonce[SHORT[r.type_url]] = r.nonce
                self.versions.update({res.name: res.version for res in r.resources})


SCENARIOS = {
    "legacy wildcard first request, then only changed resources, removals explicit": [
        Push(BASE),
        Req("cds", expect="initial", sends=[("cds", ("a", "b"), ())]),
        Req("cds", nonce=LAST, expect="ack"),
        Push({**BASE, "cds": {"a": A2, "b": B}}, sends=[("cds", ("a",), ())]),
        Push({**BASE, "cds": {"a": A2}}, sends=[("cds", (), ("b",))]),
    ],
    "empty wildcard is answered once": [
        Push({}),
        Req("cds", sends=[("cds", (), ())]),
        Req("cds", nonce=LAST, expect="ack"),
        Push({"eds": {"a": EA}}),
    ],
    "by-name subscription: absent name reported once, sent when created": [
        Push(BASE),
        Req("eds", subscribe=("a", "c"), sends=[("eds", ("a",), ("c",))]),
        Req("eds", nonce=LAST, expect="ack"),
        Push({**BASE, "eds": {"a": EA, "b": EB}}),
        Push({**BASE, "eds": {"a": EA, "b": EB, "c": endpoints("c")}}, sends=[("eds", ("c",), ())]),
    ],
    "freshly subscribed names are re-sent even if held; unsubscribe sends nothing": [
        Push(BASE),
        Req("eds", subscribe=("a",), sends=[("eds", ("a",), ())]),
        Req("eds", subscribe=("a", "b"), nonce=LAST, expect="ack", sends=[("eds", ("a", "b"), ())]),
        Req("eds", unsubscribe=("b",), nonce=LAST, expect="ack"),
        Req("eds", unsubscribe=("never-had",), expect="update"),
    ],
    "stale nonce: ACK ignored, subscription change still applied": [
        Push(BASE),
        Req("eds", subscribe=("a",), sends=[("eds", ("a",), ())]),
        Req("eds", subscribe=("b",), nonce="999", expect="stale", sends=[("eds", ("b",), ())]),
    ],
    "NACK: recorded, not re-sent; a new version is sent": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"), ())]),
        Push({**BASE, "cds": {"a": A2, "b": B}}, sends=[("cds", ("a",), ())]),
        Req("cds", nonce=LAST, error="bad cluster", expect="nack"),
        Push({**BASE, "cds": {"a": A2, "b": B}}),
        Push({**BASE, "cds": {"a": A, "b": B}}, sends=[("cds", ("a",), ())]),
    ],
    "wildcard client unsubscribing a covered name gets it back": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"), ())]),
        Req("cds", unsubscribe=("a",), nonce=LAST, expect="ack", sends=[("cds", ("a",), ())]),
    ],
    "make-before-break order": [
        Push(BASE),
        Req("eds", subscribe=("a",), sends=[("eds", ("a",), ())]),
        Req("cds", sends=[("cds", ("a", "b"), ())]),
        Push(
            {"cds": {"a": A2, "b": B}, "eds": {"a": endpoints("a", ("127.0.0.1", 9))}},
            sends=[("cds", ("a",), ()), ("eds", ("a",), ())],
        ),
    ],
    # Envoy warms an updated cluster until endpoints arrive after it, even unchanged ones.
    "an updated cluster is followed by its unchanged endpoints": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"), ())]),
        Req("eds", subscribe=("a",), sends=[("eds", ("a",), ())]),
        Push({"cds": {"a": A2, "b": B}, "eds": BASE["eds"]}, sends=[("cds", ("a",), ()), ("eds", ("a",), ())]),
        Push({"cds": {"a": A2}, "eds": BASE["eds"]}, sends=[("cds", (), ("b",))]),  # removal only
    ],
}


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_delta_scenario(steps: list) -> None:
    Runner().run(steps)


def test_initial_resource_versions_are_honoured() -> None:
    first = Runner()
    first.run([Push(BASE), Req("cds", sends=[("cds", ("a", "b"), ())])])
    held = {"a": first.versions["a"], "b": "old-version", "gone": "x"}
    Runner().run([Push(BASE), Req("cds", initial=held, sends=[("cds", ("b",), ("gone",))])])


def test_initial_versions_all_current_still_answers_the_wildcard() -> None:
    first = Runner()
    first.run([Push(BASE), Req("cds", sends=[("cds", ("a", "b"), ())])])
    Runner().run([Push(BASE), Req("cds", initial=dict(first.versions), sends=[("cds", (), ())])])


def test_ack_of_an_older_nonce_keeps_status_stale() -> None:
    runner = Runner()
    runner.run([Push(BASE), Req("cds", sends=[("cds", ("a", "b"), ())])])
    first_nonce = runner.last_nonce["cds"]
    runner.run(
        [
            Push({**BASE, "cds": {"a": A2, "b": B}}, sends=[("cds", ("a",), ())]),
            Req("cds", nonce=first_nonce, expect="ack"),
        ]
    )
    assert runner.machine.sync_status()[CLUSTER].state.value == "STALE"
    runner.run([Req("cds", nonce=LAST, expect="ack")])
    assert runner.machine.sync_status()[CLUSTER].state.value == "SYNCED"
