"""Table tests of the SotW ADS state machine (no gRPC)."""

import pytest

from pilot.testing.xds_resources import cluster, direct_response_route, endpoints
from pilot.xds.types import CLUSTER
from tests.unit.xds.sotw_table import LAST, Push, Req, Runner

A, B = cluster("a"), cluster("b")
A2 = cluster("a", connect_timeout="2s")
EA, EB = endpoints("a", ("127.0.0.1", 1)), endpoints("b")
R1, R1_BAD, R1_NEW = (
    direct_response_route("r1", "one"),
    direct_response_route("r1", "bad"),
    direct_response_route("r1", "new"),
)
R2 = direct_response_route("r2", "two")
BASE = {"cds": {"a": A, "b": B}, "eds": {"a": EA, "b": EB}, "rds": {"r1": R1, "r2": R2}}

SCENARIOS = {
    "first wildcard request gets full state, ACK sends nothing": [
        Push(BASE),
        Req("cds", expect="initial", sends=[("cds", ("a", "b"))]),
        Req("cds", nonce=LAST, expect="ack"),
    ],
    "first wildcard request is answered even when empty": [
        Push({}),
        Req("lds", expect="initial", sends=[("lds", ())]),
        Req("lds", nonce=LAST, expect="ack"),
        Push({}),
    ],
    "nothing is sent before the node has resources": [
        Req("cds", expect="initial"),
        Push(BASE, sends=[("cds", ("a", "b"))]),
    ],
    "NACK is not answered with the same version; a new version is sent": [
        Push(BASE),
        Req("rds", names=("r1",), sends=[("rds", ("r1",))]),
        Req("rds", names=("r1",), nonce=LAST, expect="ack"),
        Push({**BASE, "rds": {"r1": R1_BAD, "r2": R2}}, sends=[("rds", ("r1",))]),
        Req("rds", names=("r1",), nonce=LAST, error="bad regex", expect="nack"),
        Push({**BASE, "rds": {"r1": R1_BAD, "r2": R2}}),  # same content again: no resend
        Push({**BASE, "rds": {"r1": R1_BAD, "r2": R1_NEW}}),  # an unsubscribed name changed: no send
        Push({**BASE, "rds": {"r1": R1_NEW, "r2": R2}}, sends=[("rds", ("r1",))]),
        Req("rds", names=("r1",), nonce=LAST, expect="ack"),
    ],
    "stale nonce is ignored, including its subscription change": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"))]),
        Push({**BASE, "cds": {"a": A2, "b": B}}, sends=[("cds", ("a", "b"))]),
        Req("cds", nonce="1", expect="stale"),
        Req("eds", names=("a",), sends=[("eds", ("a",))]),
        Req("eds", names=("a", "b"), nonce="1", expect="stale"),
        Req("eds", names=(), expect="stale"),  # no nonce once one was sent is stale too
        Req("eds", names=("a", "b"), nonce=LAST, expect="ack", sends=[("eds", ("a", "b"))]),
    ],
    "RDS/EDS: a growing subscription sends the new names, an unknown name waits for creation": [
        Push(BASE),
        Req("rds", names=("r1",), sends=[("rds", ("r1",))]),
        Req("rds", names=("r1", "r2", "r3"), nonce=LAST, expect="ack", sends=[("rds", ("r1", "r2"))]),
        Req("rds", names=("r1", "r2", "r3"), nonce=LAST, expect="ack"),
        Push(
            {**BASE, "rds": {"r1": R1, "r2": R2, "r3": direct_response_route("r3", "3")}},
            sends=[("rds", ("r1", "r2", "r3"))],
        ),
    ],
    "RDS: a name dropped and asked for again is re-sent; a deleted route sends nothing": [
        Push(BASE),
        Req("rds", names=("r1", "r2"), sends=[("rds", ("r1", "r2"))]),
        Req("rds", names=("r1",), nonce=LAST, expect="ack"),
        Req("rds", names=("r1", "r2"), nonce=LAST, expect="ack", sends=[("rds", ("r1", "r2"))]),
        Push({**BASE, "rds": {"r1": R1}}),
    ],
    "EDS/RDS are not full state: a change sends only the changed resources": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"))]),
        Req("cds", nonce=LAST, expect="ack"),
        Req("eds", names=("a", "b"), sends=[("eds", ("a", "b"))]),
        Req("eds", names=("a", "b"), nonce=LAST, expect="ack"),
        Push({**BASE, "eds": {"a": endpoints("a", ("127.0.0.2", 1)), "b": EB}}, sends=[("eds", ("a",))]),
        Req("eds", names=("a", "b"), nonce=LAST, expect="ack"),
        Push({**BASE, "cds": {"a": A2, "b": B}, "eds": {"a": EA, "b": EB}},
             sends=[("cds", ("a", "b")), ("eds", ("a", "b"))]),  # after CDS, every assignment again
    ],
    "CDS is full state: a removed cluster sends the remaining ones": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"))]),
        Push({**BASE, "cds": {"a": A}}, sends=[("cds", ("a",))]),
        Push({**BASE, "cds": {}}, sends=[("cds", ())]),
    ],
    "legacy wildcard: after explicit names, an empty list means nothing": [
        Push(BASE),
        Req("cds", names=("a",), sends=[("cds", ("a",))]),
        Req("cds", names=(), nonce=LAST, expect="ack"),  # unsubscribed: the client drops "a" itself
        Push({**BASE, "cds": {"a": A2, "b": B}}),
        Req("cds", names=("*",), nonce=LAST, expect="ack", sends=[("cds", ("a", "b"))]),
    ],
    "wildcard plus an explicit name": [
        Push({"cds": {"a": A}}),
        Req("cds", names=("*", "b"), sends=[("cds", ("a",))]),
        Push({"cds": {"a": A, "b": B}}, sends=[("cds", ("a", "b"))]),
    ],
    "a cache update is sent in make-before-break order": [
        Push(BASE),
        Req("rds", names=("r1",), sends=[("rds", ("r1",))]),
        Req("lds", sends=[("lds", ())]),
        Req("eds", names=("a",), sends=[("eds", ("a",))]),
        Req("cds", sends=[("cds", ("a", "b"))]),
        Push(
            {"cds": {"a": A2}, "eds": {"a": endpoints("a")}, "rds": {"r1": R1_NEW}},
            sends=[("cds", ("a",)), ("eds", ("a",)), ("rds", ("r1",))],
        ),
    ],
    # Envoy warms an updated cluster until endpoints arrive after it, even unchanged ones.
    "an updated cluster is followed by its unchanged endpoints": [
        Push(BASE),
        Req("cds", sends=[("cds", ("a", "b"))]),
        Req("eds", names=("a",), sends=[("eds", ("a",))]),
        Push({"cds": {"a": A2}, "eds": dict(BASE["eds"]), "rds": dict(BASE["rds"])},
             sends=[("cds", ("a",)), ("eds", ("a",))]),
    ],
}


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_sotw_scenario(steps: list) -> None:
    Runner().run(steps)


def test_version_info_is_the_type_version_and_nonces_are_unique() -> None:
    runner = Runner()
    runner.run(
        [
            Push(BASE),
            Req("cds", sends=[("cds", ("a", "b"))]),
            Req("eds", names=("a",), sends=[("eds", ("a",))]),
        ]
    )
    node = runner.cache.get("n")
    assert node is not None
    assert runner.last_version["cds"] == node.version(CLUSTER)
    assert runner.last_nonce["cds"] != runner.last_nonce["eds"]


def test_reconnect_with_current_wildcard_version_sends_nothing() -> None:
    first = Runner()
    first.run([Push(BASE), Req("cds", sends=[("cds", ("a", "b"))])])
    version = first.last_version["cds"]
    again = Runner()
    again.run([Push(BASE), Req("cds", version=version, expect="initial")])
    status = again.machine.sync_status()[CLUSTER]
    assert (status.sent, status.acked, status.state.value) == (version, version, "SYNCED")
    # ...but a later change is sent.
    again.run([Push({**BASE, "cds": {"a": A2, "b": B}}, sends=[("cds", ("a", "b"))])])


def test_reconnect_with_an_old_version_gets_the_current_one() -> None:
    Runner().run([Push(BASE), Req("cds", version="old", sends=[("cds", ("a", "b"))])])


def test_reconnect_carrying_a_version_still_gets_rds_by_name() -> None:
    first = Runner()
    first.run([Push(BASE), Req("rds", names=("r1",), sends=[("rds", ("r1",))])])
    Runner().run(
        [Push(BASE), Req("rds", names=("r1",), version=first.last_version["rds"], sends=[("rds", ("r1",))])]
    )


def test_sync_status_follows_ack_and_nack() -> None:
    runner = Runner()
    runner.run([Push(BASE), Req("rds", names=("r1",), sends=[("rds", ("r1",))])])
    sync = runner.machine.sync_status
    assert sync()[runner.request(Req("rds")).type_url].as_dict()["status"] == "STALE"
    runner.run([Req("rds", names=("r1",), nonce=LAST, expect="ack")])
    rds = runner.request(Req("rds")).type_url
    assert sync()[rds].as_dict() == {
        "sent": runner.last_version["rds"],
        "acked": runner.last_version["rds"],
        "status": "SYNCED",
    }
    good = runner.last_version["rds"]
    runner.run(
        [
            Push({**BASE, "rds": {"r1": R1_BAD}}, sends=[("rds", ("r1",))]),
            Req("rds", names=("r1",), nonce=LAST, version=good, error="boom", expect="nack"),
        ]
    )
    assert sync()[rds].as_dict() == {
        "sent": runner.last_version["rds"],
        "acked": good,
        "status": "ERROR",
        "error": "boom",
    }
    assert sync()[rds].nacks == 1


def test_stale_ack_still_reports_the_applied_version() -> None:
    runner = Runner()
    runner.run([Push(BASE), Req("cds", sends=[("cds", ("a", "b"))])])
    applied, old_nonce = runner.last_version["cds"], runner.last_nonce["cds"]
    runner.run([Push({**BASE, "cds": {"a": A2, "b": B}}, sends=[("cds", ("a", "b"))])])
    runner.run([Req("cds", nonce=old_nonce, version=applied, expect="stale")])
    status = runner.machine.sync_status()[CLUSTER]
    assert (status.acked, status.state.value) == (applied, "STALE")
