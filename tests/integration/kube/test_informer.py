"""The kube source against the fake API server, driven by the real `kubernetes` client."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from pilot.model.resource import ConfigKey, Resource
from pilot.sources.kube import KubeSource
from pilot.sources.store import ConfigStore
from pilot.testing.kube_apiserver import FakeKubeApiServer
from tests.integration.kube import objects
from tests.integration.kube.conftest import Recorder, wait_for

MERGE = "application/merge-patch+json"
ISTIO = ("networking.istio.io", "v1")
StartSource = Callable[..., KubeSource]


def in_store(store: ConfigStore, key: ConfigKey) -> Resource | None:
    return next((r for r in store.resources() if r.key == key), None)


def test_initial_list_fills_the_store_with_resources_and_origins(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    api.apply(objects.service("reviews"))
    api.apply(objects.virtual_service("reviews"))
    api.apply(objects.pod("reviews-v1-abc"))
    start_source(kinds=("Service", "VirtualService", "Pod", "Namespace"))
    svc = in_store(store, ConfigKey("Service", "default", "reviews"))
    vs = in_store(store, ConfigKey("VirtualService", "default", "reviews"))
    pod = in_store(store, ConfigKey("Pod", "default", "reviews-v1-abc"))
    assert svc is not None and vs is not None and pod is not None
    assert svc.api_version == "v1" and svc.spec["ports"][0]["port"] == 9080
    assert svc.origin.path == "k8s://Service/default/reviews"
    assert vs.api_version == "networking.istio.io/v1" and vs.spec["hosts"] == ["reviews"]
    assert pod.status["podIP"] == "10.0.0.1"
    assert in_store(store, ConfigKey("Namespace", "", "kube-system")) is not None
    assert store.synced


CRUD_CASES: list[tuple[str, Callable[..., dict[str, Any]]]] = [
    ("Service", objects.service), ("Pod", objects.pod), ("EndpointSlice", objects.endpoint_slice),
    ("VirtualService", objects.virtual_service), ("DestinationRule", objects.destination_rule),
]


def _create(kube: client.ApiClient, doc: dict[str, Any]) -> None:
    core, disc, co = client.CoreV1Api(kube), client.DiscoveryV1Api(kube), client.CustomObjectsApi(kube)
    ns, kind = doc["metadata"]["namespace"], doc["kind"]
    if kind == "Service":
        core.create_namespaced_service(ns, doc)
    elif kind == "Pod":
        core.create_namespaced_pod(ns, doc)
        core.patch_namespaced_pod_status(doc["metadata"]["name"], ns, {"status": doc["status"]},
                                         _content_type=MERGE)
    elif kind == "EndpointSlice":
        disc.create_namespaced_endpoint_slice(ns, doc)
    else:
        co.create_namespaced_custom_object(*ISTIO, ns, doc["kind"].lower() + "s", doc)


def _patch(kube: client.ApiClient, kind: str, name: str, body: dict[str, Any]) -> None:
    core, disc, co = client.CoreV1Api(kube), client.DiscoveryV1Api(kube), client.CustomObjectsApi(kube)
    fns: dict[str, Callable[..., Any]] = {
        "Service": lambda: core.patch_namespaced_service(name, "default", body, _content_type=MERGE),
        "Pod": lambda: core.patch_namespaced_pod(name, "default", body, _content_type=MERGE),
        "EndpointSlice": lambda: disc.patch_namespaced_endpoint_slice(name, "default", body,
                                                                      _content_type=MERGE),
    }
    fn = fns.get(kind) or (lambda: co.patch_namespaced_custom_object(
        *ISTIO, "default", kind.lower() + "s", name, body))
    fn()


def _delete(kube: client.ApiClient, kind: str, name: str) -> None:
    core, disc, co = client.CoreV1Api(kube), client.DiscoveryV1Api(kube), client.CustomObjectsApi(kube)
    if kind == "Service":
        core.delete_namespaced_service(name, "default")
    elif kind == "Pod":
        core.delete_namespaced_pod(name, "default")
    elif kind == "EndpointSlice":
        disc.delete_namespaced_endpoint_slice(name, "default")
    else:
        co.delete_namespaced_custom_object(*ISTIO, "default", kind.lower() + "s", name)


@pytest.mark.parametrize(("kind", "build"), CRUD_CASES, ids=[c[0] for c in CRUD_CASES])
def test_create_update_delete_reach_the_store_within_one_second(
        kind: str, build: Callable[..., dict[str, Any]], kube: client.ApiClient, store: ConfigStore,
        start_source: StartSource) -> None:
    start_source(kinds=(kind,))
    key = ConfigKey(kind, "default", "reviews")
    t0 = time.monotonic()
    _create(kube, build("reviews"))
    wait_for(lambda: in_store(store, key), timeout=1.0)
    created = time.monotonic() - t0

    t0 = time.monotonic()
    _patch(kube, kind, "reviews", {"metadata": {"labels": {"touched": "yes"}}})
    wait_for(lambda: (r := in_store(store, key)) is not None and r.labels.get("touched") == "yes",
             timeout=1.0)
    updated = time.monotonic() - t0

    t0 = time.monotonic()
    _delete(kube, kind, "reviews")
    wait_for(lambda: in_store(store, key) is None, timeout=1.0)
    deleted = time.monotonic() - t0
    assert max(created, updated, deleted) < 1.0


def test_410_after_a_gap_relists_and_emits_exactly_the_changes(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    for name in ("a", "b", "c"):
        api.apply(objects.virtual_service(name))
    src = start_source(kinds=("VirtualService",))
    (reflector,) = src.reflectors
    recorder = Recorder(store)
    with api.watch_outage():  # the source is disconnected while these happen and history is compacted
        api.apply(objects.virtual_service("a", weights=(20, 80)))
        api.remove("VirtualService", "default", "b")
        api.apply(objects.virtual_service("d"))
        api.compact()
    key = {n: ConfigKey("VirtualService", "default", n) for n in "abcd"}
    wait_for(lambda: in_store(store, key["d"]) and in_store(store, key["b"]) is None)
    wait_for(lambda: reflector.lists == 2)
    a = in_store(store, key["a"])
    assert a is not None and a.spec["http"][0]["route"][0]["weight"] == 20
    assert in_store(store, key["c"]) is not None
    # Each change is reported once; the untouched object is not reported at all.
    assert [recorder.count(key[n]) for n in "abcd"] == [1, 1, 0, 1]
    watches = [q for m, p, q in api.requests if q.get("watch") == "true"]
    assert all(q.get("allowWatchBookmarks") == "true" for q in watches)


def test_cut_watch_resumes_from_its_resource_version_without_relisting(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    api.apply(objects.service("a"))
    api.apply(objects.service("b"))
    src = start_source(kinds=("Service",))
    (reflector,) = src.reflectors
    recorder = Recorder(store)
    with api.watch_outage():
        api.apply({**objects.service("a"), "spec": {"ports": [{"name": "http", "port": 8080}]}})
        api.remove("Service", "default", "b")
        api.apply(objects.service("c"))
    keys = {n: ConfigKey("Service", "default", n) for n in "abc"}
    wait_for(lambda: in_store(store, keys["c"]) and in_store(store, keys["b"]) is None)
    a = in_store(store, keys["a"])
    assert a is not None and a.spec["ports"][0]["port"] == 8080
    assert [recorder.count(keys[n]) for n in "abc"] == [1, 1, 1]
    assert reflector.lists == 1  # resumed from the last resourceVersion: no relist was needed
    # A plain cut mid-stream (no outage) reconnects too, and later changes still arrive.
    assert api.cut_watches() == 1
    api.apply(objects.service("d"))
    wait_for(lambda: in_store(store, ConfigKey("Service", "default", "d")), timeout=2)
    assert reflector.lists == 1


def test_bookmarks_advance_the_resume_point_so_compaction_needs_no_relist(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    src = start_source(kinds=("DestinationRule",))
    (reflector,) = src.reflectors
    listed_at = int(reflector.resource_version or 0)
    for i in range(5):  # other kinds move the cluster's revision on
        api.apply(objects.service(f"s{i}"))
    now = api.state.rv
    wait_for(lambda: int(reflector.resource_version or 0) == now, timeout=2)
    assert now > listed_at
    api.compact()
    api.cut_watches()
    api.apply(objects.destination_rule("after"))
    wait_for(lambda: in_store(store, ConfigKey("DestinationRule", "default", "after")), timeout=2)
    assert reflector.lists == 1


def test_missing_crd_warns_once_counts_as_synced_and_is_picked_up_when_installed(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource,
        caplog: pytest.LogCaptureFixture) -> None:
    api.uninstall_crd("RateLimitPolicy")
    caplog.set_level(logging.WARNING, logger="pilot.sources.kube")
    src = start_source(kinds=("RateLimitPolicy", "Service"))
    assert src.synced and store.synced
    time.sleep(0.7)  # several retries (missing_retry=0.2)
    warnings = [r for r in caplog.records if "RateLimitPolicy is not served" in r.getMessage()]
    assert len(warnings) == 1
    assert "is its CRD installed" in warnings[0].getMessage()
    api.install_crd("RateLimitPolicy")
    api.apply({"apiVersion": "policy.meshpilot.io/v1alpha1", "kind": "RateLimitPolicy",
               "metadata": {"name": "rl", "namespace": "default"}, "spec": {}})
    wait_for(lambda: in_store(store, ConfigKey("RateLimitPolicy", "default", "rl")), timeout=3)
    assert src.problems() == []


def test_older_served_version_is_used_when_the_newest_is_not_served(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    api.uninstall_crd("VirtualService", versions=("v1",))
    api.apply({**objects.virtual_service("old"), "apiVersion": "networking.istio.io/v1beta1"})
    src = start_source(kinds=("VirtualService",))
    assert src.reflectors[0].api_version == "networking.istio.io/v1beta1"
    vs = in_store(store, ConfigKey("VirtualService", "default", "old"))
    assert vs is not None and vs.api_version == "networking.istio.io/v1beta1"


def test_forbidden_names_the_missing_permission_and_blocks_sync(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource,
        caplog: pytest.LogCaptureFixture) -> None:
    api.deny("virtualservices", verb="list")
    caplog.set_level(logging.ERROR, logger="pilot.sources.kube")
    src = start_source(kinds=("VirtualService", "Service"), sync=False)
    wait_for(lambda: src.problems())
    time.sleep(0.5)  # retries with backoff
    (problem,) = src.problems()
    for part in ("verb='list'", "resource='virtualservices'", "apiGroup='networking.istio.io'",
                 "all namespaces", 'cannot list resource "virtualservices"'):
        assert part in problem
    assert not src.synced and not store.synced
    assert len([r for r in caplog.records if "RBAC denies list" in r.getMessage()]) == 1
    api.allow_all()
    assert src.wait_synced(3)


def test_namespace_filter_watches_only_the_listed_namespaces(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    for ns in ("shop", "other"):
        api.apply(objects.namespace(ns))
        api.apply(objects.service("web", ns=ns))
    start_source(kinds=("Service", "Namespace"), namespaces=("shop",))
    api.apply(objects.service("late", ns="shop"))
    api.apply(objects.service("late", ns="other"))
    wait_for(lambda: in_store(store, ConfigKey("Service", "shop", "late")))
    keys = {r.key for r in store.resources()}
    assert ConfigKey("Service", "shop", "web") in keys
    assert not any(k.namespace == "other" for k in keys)
    assert {k.name for k in keys if k.kind == "Namespace"} == {"shop"}
    paths = {p for _, p, q in api.requests if "services" in p}
    assert paths == {"/api/v1/namespaces/shop/services"}


def test_paginated_initial_list_and_tls_secrets_only(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    from dataclasses import replace

    from tests.integration.kube.conftest import FAST
    for i in range(5):
        api.apply(objects.tls_secret(f"cert{i}"))
    api.apply(objects.tls_secret("password", tls=False))
    start_source(kinds=("Secret",), options=replace(FAST, page_size=2))
    assert {r.name for r in store.resources()} == {f"cert{i}" for i in range(5)}
    lists = [q for _, p, q in api.requests if p == "/api/v1/secrets" and q.get("watch") != "true"]
    assert len(lists) == 3 and all(q["fieldSelector"] == "type=kubernetes.io/tls" for q in lists)


def test_stop_ends_every_watch_promptly(api: FakeKubeApiServer, start_source: StartSource,
                                       store: ConfigStore) -> None:
    src = start_source()  # every kind
    wait_for(lambda: api.open_watches == len(src.reflectors))
    t0 = time.monotonic()
    src.stop()
    assert time.monotonic() - t0 < 2
    wait_for(lambda: api.open_watches == 0, timeout=2)


def test_five_thousand_objects_sync_completely(
        api: FakeKubeApiServer, store: ConfigStore, start_source: StartSource) -> None:
    # bench/kube_initial_sync.py measures this; here it must simply be complete and not slow.
    for i in range(2500):
        api.apply(objects.pod(f"p{i}", ip=f"10.0.{i // 256}.{i % 256}"))
        api.apply(objects.virtual_service(f"vs{i}"))
    t0 = time.monotonic()
    src = start_source(kinds=("Pod", "VirtualService"))
    assert time.monotonic() - t0 < 20
    kinds = [r.kind for r in store.resources()]
    assert kinds.count("Pod") == 2500 and kinds.count("VirtualService") == 2500
    assert all(r.lists == 1 for r in src.reflectors)


def test_api_client_from_a_kubeconfig_and_named_context(api: FakeKubeApiServer, tmp_path: Any) -> None:
    from pilot.sources.kube import api_client_from
    path = api.write_kubeconfig(tmp_path / "kc", context="staging")
    core = client.CoreV1Api(api_client_from(str(path), "staging"))
    names = [n.metadata.name for n in core.list_namespace().items]
    assert "kube-system" in names
    with pytest.raises(Exception, match="production"):
        api_client_from(str(path), "production")


def test_api_client_pool_holds_a_watch_per_kind(api: FakeKubeApiServer, tmp_path: Any) -> None:
    # urllib3's default pool (5 per CPU) is smaller than the number of watched kinds on 2 cores.
    from pilot.model.kinds import KINDS
    from pilot.sources.kube import api_client_from
    path = api.write_kubeconfig(tmp_path / "kc", context="staging")
    cfg = api_client_from(str(path), "staging").configuration
    assert cfg.connection_pool_maxsize > len(KINDS)
