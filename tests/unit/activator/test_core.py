"""The activator's decisions: hold while cold, one hook call per cold period, release on a probed pod."""

from __future__ import annotations

import asyncio
import time

import pytest

from pilot.activator.core import Activator, UnknownRevision
from pilot.activator.hold import HoldTimeout, QueueFull
from pilot.activator.hooks import Hook
from pilot.model.registry import Endpoint
from pilot.model.snapshot import MeshSnapshot
from tests.unit.activator.lab import HELLO, snapshot

KEY = ("default", HELLO.name)


class RecordingHook(Hook):
    def __init__(self) -> None:
        super().__init__("recorded", "activation")
        self.calls: list[tuple[str, str]] = []

    async def run(self, namespace: str, revision: str) -> bool:
        self.calls.append((namespace, revision))
        return True


class World:
    """The snapshot the activator reads and which pod addresses answer a probe."""

    def __init__(self, snap: MeshSnapshot) -> None:
        self.snap = snap
        self.up: set[str] = set()

    async def probe(self, ep: Endpoint) -> bool:
        return ep.address in self.up


def _activator(world: World, hook: Hook, **kw: float) -> Activator:
    return Activator(lambda: world.snap, hook, prober=world.probe, probe_interval=0.01, **kw)  # type: ignore[arg-type]


def _deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


async def test_unknown_revision() -> None:
    act = _activator(World(snapshot()), RecordingHook())
    with pytest.raises(UnknownRevision, match="nope"):
        await act.route(("default", "nope"), _deadline())


async def test_cold_requests_wait_for_one_activation_and_go_to_the_probed_pod() -> None:
    world, hook = World(snapshot()), RecordingHook()
    act = _activator(world, hook)
    routed = [asyncio.create_task(act.route(KEY, _deadline())) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in routed)
    assert hook.calls == [KEY]  # once for the whole burst
    world.snap = snapshot(HELLO)  # the pod is published ...
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in routed)  # ... but its app does not answer yet
    world.up.add(HELLO.ip)
    pods = await asyncio.gather(*routed)
    assert {(p.address, p.port) for p in pods} == {(HELLO.ip, 8080)}
    assert hook.calls == [KEY]
    assert act.metrics.cold_start.count("default/hello-00001") == 1
    assert act.metrics.held["default/hello-00001"] == 5


async def test_a_live_pod_is_used_without_the_hook_or_a_cold_start() -> None:
    world, hook = World(snapshot(HELLO)), RecordingHook()
    world.up.add(HELLO.ip)
    act = _activator(world, hook)
    pod = await act.route(KEY, _deadline())
    assert pod.address == HELLO.ip
    assert hook.calls == [] and act.metrics.cold_start.count("default/hello-00001") == 0
    assert (await act.route(KEY, _deadline())).address == HELLO.ip  # no probe needed now


async def test_deadline_and_the_hook_fires_again_only_after_a_whole_timeout() -> None:
    world, hook = World(snapshot()), RecordingHook()
    act = _activator(world, hook, timeout=0.2)
    with pytest.raises(HoldTimeout):
        await act.route(KEY, _deadline(0.1))
    with pytest.raises(HoldTimeout):
        await act.route(KEY, _deadline(0.05))
    assert hook.calls == [KEY]  # same cold period
    await asyncio.sleep(0.1)
    with pytest.raises(HoldTimeout):
        await act.route(KEY, _deadline(0.05))
    assert hook.calls == [KEY, KEY]  # the first attempt had its full timeout


async def test_queue_bound_per_revision() -> None:
    act = _activator(World(snapshot()), RecordingHook(), queue_size=3)
    held = [asyncio.create_task(act.route(KEY, _deadline(0.3))) for _ in range(3)]
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFull):
        await act.route(KEY, _deadline(0.3))
    for t in held:
        with pytest.raises(HoldTimeout):
            await t


async def test_deactivation_holds_activation_off_and_forgets_the_pods() -> None:
    world, hook = World(snapshot(HELLO)), RecordingHook()
    world.up.add(HELLO.ip)
    act = _activator(world, hook)
    await act.route(KEY, _deadline())
    async with act.deactivating(KEY):
        routed = asyncio.create_task(act.route(KEY, _deadline()))
        await asyncio.sleep(0.05)
        assert not routed.done()  # no forwarding to a pod being stopped
        world.snap, world.up = snapshot(), set()
    await asyncio.sleep(0.05)
    assert hook.calls == [KEY]  # cold after the deactivation: the hook runs
    world.snap = snapshot(HELLO)
    world.up.add(HELLO.ip)
    assert (await routed).address == HELLO.ip


async def test_an_unreachable_pod_is_dropped_until_it_answers_again() -> None:
    world, hook = World(snapshot(HELLO)), RecordingHook()
    world.up.add(HELLO.ip)
    act = _activator(world, hook)
    pod = await act.route(KEY, _deadline())
    act.unreachable(KEY, pod)
    world.up.clear()
    routed = asyncio.create_task(act.route(KEY, _deadline()))
    await asyncio.sleep(0.05)
    assert not routed.done()
    world.up.add(HELLO.ip)
    assert (await routed).address == HELLO.ip
