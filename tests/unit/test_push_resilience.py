"""A bug in translation for one proxy never stops pushes to the others, nor future pushes."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from pilot.debounce import DebouncedRunner
from pilot.model.proxy import ProxyView
from pilot.model.snapshot import MeshSnapshot
from pilot.push import MeshController
from pilot.sources.memory import MemorySource, resources_from_yaml
from pilot.sources.store import ConfigStore
from pilot.testing.mesh import LoopbackMesh
from pilot.translate.generate import CLUSTER, generate_with_findings
from pilot.xds.cache import ResourceCache
from pilot.xds.server import StreamRefused

MESH = LoopbackMesh.build([("a", "v1"), ("b", "v1")], block=(127, 70, 0))


class Node:
    def __init__(self, node_id: str) -> None:
        self.id = node_id


def _controller(broken: set[str]) -> tuple[MeshController, ResourceCache, MemorySource]:
    def generator(snap: MeshSnapshot, view: ProxyView):  # type: ignore[no-untyped-def]
        if view.name in broken:
            raise RuntimeError("translation bug")
        return generate_with_findings(snap, view)

    store = ConfigStore()
    src = MemorySource(store)
    src.set_all(resources_from_yaml(MESH.yaml()))
    cache = ResourceCache()
    return MeshController(store, cache, generator=generator), cache, src


async def test_a_failing_proxy_keeps_its_last_config_and_others_still_get_pushes() -> None:
    broken: set[str] = set()
    ctl, cache, src = _controller(broken)
    await ctl.push_all()
    a, b = MESH.pod("a"), MESH.pod("b")
    await ctl.on_connect(Node(a.node_id), {}, "peer")
    await ctl.on_connect(Node(b.node_id), {}, "peer")
    before_a = cache.get(a.node_id)
    broken.add(a.name)
    src.apply("apiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: default}\n"
              "spec: {selector: {app: c}, ports: [{name: http, port: 9080}]}\n")
    await ctl.push_all()
    assert cache.get(a.node_id) is before_a  # unchanged, still served
    after_b = cache.get(b.node_id)
    assert after_b is not None and "outbound|9080||c.default.svc.cluster.local" in after_b.types[CLUSTER].resources
    assert ctl.stats.translation_errors == 1


async def test_a_new_proxy_whose_config_cannot_be_built_is_refused_unavailable() -> None:
    ctl, _cache, _src = _controller({MESH.pod("a").name})
    await ctl.push_all()
    with pytest.raises(StreamRefused) as refused:
        await ctl.on_connect(Node(MESH.pod("a").node_id), {}, "peer")
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert MESH.pod("a").node_id not in ctl.nodes


async def test_debounced_runner_survives_a_failing_action() -> None:
    calls: list[set[object]] = []

    async def action(keys: set[object]) -> None:
        calls.append(keys)
        if len(calls) == 1:
            raise RuntimeError("boom")

    runner = DebouncedRunner(action, after=0.01)
    runner.start()
    runner.event({"x"})
    await asyncio.sleep(0.1)
    runner.event({"y"})
    await asyncio.sleep(0.1)
    await runner.stop()
    assert calls == [{"x"}, {"y"}]


async def test_the_graph_limits_a_policy_change_to_the_workloads_it_selects() -> None:
    ctl, cache, src = _controller(set())
    await ctl.push_all()
    a, b = MESH.pod("a"), MESH.pod("b")
    await ctl.on_connect(Node(a.node_id), {}, "peer")
    await ctl.on_connect(Node(b.node_id), {}, "peer")
    before_a, before_b = cache.get(a.node_id), cache.get(b.node_id)
    policy = ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
              "metadata: {name: deny-admin, namespace: default}\n"
              "spec: {selector: {matchLabels: {app: b}}, action: DENY,\n"
              "       rules: [{to: [{operation: {paths: [/admin]}}]}]}\n")
    src.apply(policy)
    key = next(r.key for r in src.store.resources() if r.kind == "AuthorizationPolicy")
    translations = ctl.stats.translations
    await ctl.push_all({key})
    assert ctl.stats.translations == translations + 1  # only b was translated again
    assert cache.get(a.node_id) is before_a and cache.get(b.node_id) is not before_b
    # Deleting it reaches b through the old graph.
    src.store.delete("memory", key)
    after_b = cache.get(b.node_id)
    await ctl.push_all({key})
    assert cache.get(a.node_id) is before_a and cache.get(b.node_id) is not after_b
    # A routing change can reach any caller: everyone is recomputed.
    src.apply("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\n"
              "spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n")
    vs = next(r.key for r in src.store.resources() if r.kind == "VirtualService")
    translations = ctl.stats.translations
    await ctl.push_all({vs})
    assert ctl.stats.translations == translations + 2
