"""Revision endpoint modes in the snapshot: activator when cold or forced, pods otherwise, never empty."""

from __future__ import annotations

from pilot.model.revisions import Mode
from tests.unit.activator.lab import ACTIVATOR, HELLO, OTHER, snapshot

HOST = f"{HELLO.name}.default.svc.cluster.local"


def _eps(snap, host=HOST):  # type: ignore[no-untyped-def]
    return [(e.address, e.port) for e in snap.service_endpoints(host, 80)]


def test_a_revision_without_pods_points_at_the_activator() -> None:
    snap = snapshot()
    assert _eps(snap) == [ACTIVATOR]
    assert snap.revisions[("default", HELLO.name)].mode is Mode.PROXY
    assert snap.revisions[("default", HELLO.name)].ready_pods() == ()


def test_ready_pods_serve_unless_the_revision_is_forced_into_proxy() -> None:
    warm = snapshot(HELLO, OTHER)
    assert _eps(warm) == [(HELLO.ip, 8080)]
    assert warm.revisions[("default", HELLO.name)].mode is Mode.SERVE
    forced = snapshot(HELLO, OTHER, proxied=frozenset({("default", HELLO.name)}))
    assert _eps(forced) == [ACTIVATOR]
    rev = forced.revisions[("default", HELLO.name)]
    assert rev.mode is Mode.PROXY and [(e.address, e.port) for e in rev.ready_pods()] == [(HELLO.ip, 8080)]
    assert _eps(forced, f"{OTHER.name}.default.svc.cluster.local") == [(OTHER.ip, 8080)]  # only that one
    assert forced.version != warm.version  # the mode is part of what the snapshot was built from


def test_without_an_activator_nothing_changes() -> None:
    snap = snapshot(activator=None)
    assert _eps(snap) == [] and snap.revisions == {}


def test_only_the_public_service_named_after_the_revision_is_a_revision() -> None:
    from pilot.model.registry import Service
    from pilot.model.revisions import revision_of

    sel = {"serving.knative.dev/revision": "hello-00001"}
    assert revision_of(Service("hello-00001", "ns", "h", (), selector=sel)) == ("ns", "hello-00001")
    assert revision_of(Service("hello-00001-private", "ns", "h", (), selector=sel)) is None
    assert revision_of(Service("hello-00001", "ns", "h", ())) is None
    assert revision_of(Service("hello-00001", "ns", "h", (), labels=sel)) == ("ns", "hello-00001")
