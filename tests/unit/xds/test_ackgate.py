"""The ACK gate: every connected node holding the resources must ACK a version carrying them as pushed."""

from __future__ import annotations

import asyncio

from pilot.testing.xds_resources import endpoints, resource_set
from pilot.xds.ackgate import AckGate
from pilot.xds.cache import ResourceCache
from pilot.xds.types import ENDPOINT

REV = "outbound|80||hello-00001.default.svc.cluster.local"
OTHER = "outbound|80||other-00001.default.svc.cluster.local"
ACTIVATOR = ("127.0.0.1", 8012)
POD = ("127.1.2.50", 8080)


class Fleet:
    """A cache plus what each node ACKed, as the xDS server would report it."""

    def __init__(self, *nodes: str) -> None:
        self.cache = ResourceCache()
        self.connected = set(nodes)
        self.acked: dict[str, str] = {}
        for n in nodes:
            self.give(n, POD)
            self.ack(n)

    def give(self, node: str, rev_endpoint: tuple[str, int], other: tuple[str, int] = ("127.1.2.51", 8080)) -> None:
        self.cache.set_node_resources(node, resource_set(endpoints_={REV: endpoints(REV, rev_endpoint),
                                                                     OTHER: endpoints(OTHER, other)}))

    def ack(self, node: str) -> None:
        found = self.cache.get(node)
        assert found is not None
        self.acked[node] = found.version(ENDPOINT)

    def gate(self) -> AckGate:
        return AckGate(self.cache, lambda n, _t: self.acked.get(n, ""), lambda: sorted(self.connected), 0.005)


async def test_waits_for_every_node_then_passes() -> None:
    fleet = Fleet("a", "b")
    gate = fleet.gate()
    for n in ("a", "b"):
        fleet.give(n, ACTIVATOR)
    targets = gate.targets(ENDPOINT, [REV])
    assert set(targets) == {"a", "b"}
    waiting = asyncio.create_task(gate.wait(ENDPOINT, targets, 5))
    await asyncio.sleep(0.02)
    fleet.ack("a")
    await asyncio.sleep(0.02)
    assert not waiting.done()  # b still runs with the pod endpoints
    fleet.ack("b")
    result = await waiting
    assert result.ok and result.pending == ()


async def test_a_later_version_with_the_same_assignment_counts() -> None:
    fleet = Fleet("a")
    gate = fleet.gate()
    fleet.give("a", ACTIVATOR)
    targets = gate.targets(ENDPOINT, [REV])
    waiting = asyncio.create_task(gate.wait(ENDPOINT, targets, 5))
    await asyncio.sleep(0.02)
    fleet.give("a", ACTIVATOR, other=("127.1.2.99", 8080))  # another cluster changed meanwhile
    await asyncio.sleep(0.02)
    fleet.ack("a")
    assert (await waiting).ok


async def test_an_ack_of_the_old_assignment_does_not_count() -> None:
    fleet = Fleet("a")
    gate = fleet.gate()
    fleet.give("a", ACTIVATOR)
    targets = gate.targets(ENDPOINT, [REV])
    result = await gate.wait(ENDPOINT, targets, 0.05)  # "a" only ever ACKed the pod endpoints
    assert not result.ok and result.pending == ("a",)


async def test_a_silent_node_times_out_and_a_disconnected_one_stops_blocking() -> None:
    fleet = Fleet("a", "silent", "leaving")
    gate = fleet.gate()
    for n in ("a", "silent", "leaving"):
        fleet.give(n, ACTIVATOR)
    targets = gate.targets(ENDPOINT, [REV])
    fleet.ack("a")
    fleet.connected.discard("leaving")
    result = await gate.wait(ENDPOINT, targets, 0.05)
    assert not result.ok and result.pending == ("silent",) and result.disconnected == ("leaving",)
    fleet.connected.discard("silent")
    assert (await gate.wait(ENDPOINT, targets, 0.05)).ok


async def test_nodes_without_the_resource_are_not_waited_for() -> None:
    fleet = Fleet("a")
    fleet.cache.set_node_resources("unrelated", resource_set(endpoints_={OTHER: endpoints(OTHER, POD)}))
    fleet.connected.add("unrelated")
    assert set(fleet.gate().targets(ENDPOINT, [REV])) == {"a"}
