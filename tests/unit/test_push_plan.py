"""Scoped and endpoint-only pushes: after every change, each proxy holds exactly what a translation from
scratch of the new snapshot gives it, and only proxies whose config depends on the change were touched."""

from __future__ import annotations

import copy

import pytest
import yaml

from pilot.model.mesh import MeshConfig
from pilot.model.proxy import NodeId
from pilot.model.resource import ConfigKey
from pilot.model.snapshot import build_snapshot
from pilot.push import MeshController
from pilot.push_scope import plan_push
from pilot.sources.memory import MemorySource, resources_from_yaml
from pilot.sources.store import ConfigStore
from pilot.testing.scale_mesh import ScaleMesh
from pilot.translate.generate import generate_with_findings
from pilot.xds.cache import ResourceCache

MESH = ScaleMesh(services=9, pods_per_service=4, namespaces=3, proxies=18)


class Node:
    def __init__(self, node_id: str) -> None:
        self.id = node_id


def _versions(cache: ResourceCache, node_id: str) -> dict[str, dict[str, str]]:
    node = cache.get(node_id)
    assert node is not None
    return {t: {n: r.version for n, r in tr.resources.items()} for t, tr in node.types.items()}


async def _connected(mtls: bool) -> tuple[MeshController, MemorySource]:
    store = ConfigStore()
    src = MemorySource(store)
    src.set_all(resources_from_yaml(MESH.yaml()))
    ctl = MeshController(store, ResourceCache(), MeshConfig(workload_mtls=mtls))
    await ctl.push_all()
    for p in MESH.proxied_pods():
        await ctl.on_connect(Node(p.node_id), {}, "peer")
    return ctl, src


def _fresh(ctl: MeshController) -> dict[str, dict[str, dict[str, str]]]:
    snap = build_snapshot(ctl.store.resources(), ctl.mesh)
    cache = ResourceCache()
    for node_id in ctl.nodes:
        cache.set_node_resources(node_id, generate_with_findings(snap, snap.proxy_view(NodeId.parse(node_id)))[0])
    return {n: _versions(cache, n) for n in ctl.nodes}


def _doc(kind: str, ns: str, name: str, docs: list[dict]) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["namespace"] == ns
                and d["metadata"]["name"] == name)


def _changes() -> list[tuple[str, str, object]]:
    """(label, expected plan: "eds" for endpoints only, else a translation, documents to apply) for a
    series of edits applied one after another."""
    ns0 = MESH.namespace_of(0)
    docs0 = MESH.service_documents(0, extra_pods=1)
    new_pod = docs0[-1]
    proxied = MESH.pods(0)[0]
    routing1 = MESH.routing_documents(1, (50, 50))
    return [
        ("a pod joins service 0", "eds", [new_pod]),
        ("that pod changes version label", "eds", [_relabel(new_pod, version="v2")]),
        ("that pod changes service account", "cds", [_with_sa(_relabel(new_pod, version="v2"), "other")]),
        ("a proxied pod leaves its Sidecar", "full",
         [_relabel(_doc("Pod", ns0, proxied.name, docs0), **{"meshpilot.io/pod": "none"})]),
        ("service 1's VirtualService goes 50/50", "rds", [routing1[1]]),
        ("service 2's DestinationRule gains a subset", "cds", [_with_subset(MESH.routing_documents(2)[0])]),
        ("a new service in namespace 0", "cds", [_service(ns0, "extra")]),
    ]


def _relabel(doc: dict, **labels: str) -> dict:
    d = copy.deepcopy(doc)
    d["metadata"]["labels"].update(labels)
    return d


def _with_sa(doc: dict, sa: str) -> dict:
    d = copy.deepcopy(doc)
    d["spec"]["serviceAccountName"] = sa
    return d


def _with_subset(dr: dict) -> dict:
    d = copy.deepcopy(dr)
    d["spec"]["subsets"].append({"name": "v3", "labels": {"version": "v3"}})
    return d


def _service(ns: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": "svc0"}, "ports": [{"name": "http", "port": 9080, "targetPort": 8080}]}}


@pytest.mark.parametrize("mtls", [False, True])
async def test_every_proxy_matches_a_fresh_translation_after_each_change(mtls: bool) -> None:
    ctl, src = await _connected(mtls)
    for label, outcome, docs in _changes():
        before = {n: _versions(ctl.cache, n) for n in ctl.nodes}
        old = ctl.snapshot
        keys: set[object] = set()
        for d in docs:  # type: ignore[attr-defined]
            src.apply(yaml.safe_dump(d))
            keys.add(ConfigKey(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]))
        await ctl.push_all(keys)
        assert old is not None and ctl.snapshot is not None
        plan = plan_push(old, ctl.snapshot, keys, ctl.nodes)
        assert plan.full is not None
        assert (not plan.full and bool(plan.endpoints_only)) if outcome == "eds" else bool(plan.full), label
        fresh = _fresh(ctl)
        for node_id in ctl.nodes:
            assert _versions(ctl.cache, node_id) == fresh[node_id], f"{label}: {node_id}"
            if not plan.reaches(node_id):
                assert before[node_id] == fresh[node_id], f"{label}: {node_id} needed the change"


async def test_an_endpoint_change_reaches_its_namespace_with_eds_only() -> None:
    ctl, src = await _connected(False)
    ns0 = MESH.namespace_of(0)
    before = {n: _versions(ctl.cache, n) for n in ctl.nodes}
    translations = ctl.stats.translations
    pod = MESH.service_documents(0, extra_pods=1)[-1]
    src.apply(yaml.safe_dump(pod))
    await ctl.push_all({ConfigKey("Pod", ns0, pod["metadata"]["name"])})
    assert ctl.stats.translations == translations  # nothing translated: assignments swapped in
    in_ns = {p.node_id for p in MESH.proxies_in_namespace(ns0)}
    assert ctl.stats.endpoint_only_updates == len(in_ns)
    for node_id in ctl.nodes:
        now = _versions(ctl.cache, node_id)
        changed = {t for t in now if now[t] != before[node_id][t]}
        assert changed == ({"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"}
                           if node_id in in_ns else set()), node_id
        if node_id in in_ns:
            eds = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            diff = {n for n in now[eds] if now[eds][n] != before[node_id][eds].get(n)}
            assert diff == {"outbound|9080||svc0.ns0.svc.cluster.local", "outbound|9080|v1|svc0.ns0.svc.cluster.local"}


async def test_a_route_change_reaches_only_the_proxies_that_see_the_host() -> None:
    ctl, src = await _connected(False)
    translations = ctl.stats.translations
    vs = MESH.routing_documents(1, (50, 50))[1]
    src.apply(yaml.safe_dump(vs))
    await ctl.push_all({ConfigKey("VirtualService", MESH.namespace_of(1), "svc1")})
    seeing = MESH.proxies_in_namespace(MESH.namespace_of(1))
    assert ctl.stats.last_push_reached == len(seeing)
    # Proxies of a scope share the translation of the scope; each still gets its own listeners.
    assert ctl.stats.translations - translations == len(seeing)


async def test_a_mesh_wide_policy_reaches_everyone() -> None:
    ctl, src = await _connected(True)
    src.apply("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
              "metadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n")
    await ctl.push_all({ConfigKey("PeerAuthentication", "istio-system", "default")})
    assert ctl.stats.last_push_reached == len(ctl.nodes)


async def test_a_namespace_telemetry_reaches_only_that_namespace_and_matches_a_fresh_translation() -> None:
    ctl, src = await _connected(False)
    ns = MESH.namespace_of(1)
    src.apply(f"apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {{name: logs, namespace: {ns}}}\n"
              "spec: {accessLogging: [{providers: [{name: envoy}]}]}\n")
    await ctl.push_all({ConfigKey("Telemetry", ns, "logs")})
    assert ctl.stats.last_push_reached == len(MESH.proxies_in_namespace(ns)) < len(ctl.nodes)
    assert {n: _versions(ctl.cache, n) for n in ctl.nodes} == _fresh(ctl)
