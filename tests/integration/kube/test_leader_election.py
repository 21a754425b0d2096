"""Leader election on a coordination.k8s.io/v1 Lease against the fake API server: Leases behave like the
real server's (conditional writes), exactly one candidate leads, a released Lease is taken at the next
retry, and a crashed leader's Lease only after the lease duration."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from pilot.sources.kube import LeaderElector, LeaseTimings
from pilot.testing.kube_apiserver import FakeKubeApiServer

from .conftest import wait_for

FAST = LeaseTimings(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)


def _lease(name: str, holder: str) -> client.V1Lease:
    return client.V1Lease(metadata=client.V1ObjectMeta(name=name),
                          spec=client.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=15))


def test_leases_are_written_conditionally_like_the_real_servers(api: FakeKubeApiServer,
                                                                kube: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(kube)
    leases.create_namespaced_lease("default", _lease("lock", "a"))
    with pytest.raises(ApiException) as exists:
        leases.create_namespaced_lease("default", _lease("lock", "b"))
    assert exists.value.status == 409
    first, second = (leases.read_namespaced_lease("lock", "default") for _ in range(2))
    first.spec.holder_identity = "a"
    first.spec.lease_duration_seconds = 10
    leases.replace_namespaced_lease("lock", "default", first)
    second.spec.holder_identity = "b"
    with pytest.raises(ApiException) as conflict:  # read before a's write: stale resourceVersion
        leases.replace_namespaced_lease("lock", "default", second)
    assert conflict.value.status == 409 and "has been modified" in conflict.value.body
    unconditional = leases.read_namespaced_lease("lock", "default")
    unconditional.metadata.resource_version = None
    with pytest.raises(ApiException) as invalid:
        leases.replace_namespaced_lease("lock", "default", unconditional)
    assert invalid.value.status == 422
    assert leases.read_namespaced_lease("lock", "default").spec.holder_identity == "a"


class _Watch:
    """Samples who leads, to prove there are never two leaders at once."""

    def __init__(self, electors: list[LeaderElector]) -> None:
        self.electors = electors
        self.overlaps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            if sum(e.is_leader for e in self.electors) > 1:
                self.overlaps += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


@pytest.fixture
def electors(kube: client.ApiClient) -> Iterator[list[LeaderElector]]:
    made = [LeaderElector(kube, "default", "meshpilot-test-leader", identity=f"replica-{i}", timings=FAST)
            for i in range(3)]
    yield made
    for e in made:
        e.stop(release=False)


def test_one_leader_and_a_graceful_stop_hands_over_at_once(electors: list[LeaderElector],
                                                           kube: client.ApiClient) -> None:
    watch = _Watch(electors)
    for e in electors:
        e.start()
    wait_for(lambda: sum(e.is_leader for e in electors) == 1, 5)
    time.sleep(3 * FAST.lease_duration)  # renewals keep it: no one else takes over meanwhile
    leader = next(e for e in electors if e.is_leader)
    lease = client.CoordinationV1Api(kube).read_namespaced_lease("meshpilot-test-leader", "default")
    assert lease.spec.holder_identity == leader.identity

    leader.stop(release=True)
    took = wait_for(lambda: any(e.is_leader for e in electors if e is not leader), 5)
    assert took < FAST.lease_duration  # released: no need to wait the lease out
    watch.stop()
    assert watch.overlaps == 0


def test_a_crashed_leader_is_replaced_after_the_lease_duration(electors: list[LeaderElector],
                                                                api: FakeKubeApiServer) -> None:
    first, second = electors[0], electors[1]
    first.start()
    wait_for(lambda: first.is_leader, 5)
    second.start()
    time.sleep(0.5)
    assert not second.is_leader
    first.stop(release=False)  # a crash: the Lease is left as it was
    took = wait_for(lambda: second.is_leader, 5)
    assert 0.5 <= took <= FAST.lease_duration + 1.0


def test_a_leader_cut_off_from_the_api_server_steps_down(electors: list[LeaderElector],
                                                         api: FakeKubeApiServer) -> None:
    stopped = threading.Event()
    leader = LeaderElector(electors[0].leases.api_client, "default", "meshpilot-cutoff", identity="cut",
                           timings=FAST, on_stopped=stopped.set)
    leader.start()
    try:
        wait_for(lambda: leader.is_leader, 5)
        api.deny("leases")  # renewals fail from now on
        took = wait_for(stopped.is_set, 5)
        assert not leader.is_leader
        assert took <= FAST.renew_deadline + 3 * FAST.retry_period
    finally:
        api.allow_all()
        leader.stop()
