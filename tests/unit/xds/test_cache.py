import pytest
from google.protobuf.any_pb2 import Any

from pilot.testing.xds_resources import cluster, direct_response_route, resource_set
from pilot.xds.cache import ResourceCache, TypeResources, content_hash
from pilot.xds.types import CLUSTER, LISTENER, ROUTE


def test_versions_are_content_hashes_independent_of_object_identity() -> None:
    one, two = ResourceCache(), ResourceCache()
    one.set_node_resources("n", resource_set(clusters={"a": cluster("a"), "b": cluster("b")}))
    two.set_node_resources("n", resource_set(clusters={"b": cluster("b"), "a": cluster("a")}))
    v1, v2 = one.get("n"), two.get("n")
    assert v1 is not None and v2 is not None
    assert v1.version(CLUSTER) == v2.version(CLUSTER)
    assert v1.of(CLUSTER).resources["a"].version == content_hash(cluster("a").SerializeToString())


def test_type_version_changes_when_any_resource_changes() -> None:
    cache = ResourceCache()
    cache.set_node_resources("n", resource_set(clusters={"a": cluster("a")}))
    before = cache.get("n")
    cache.set_node_resources("n", resource_set(clusters={"a": cluster("a", connect_timeout="2s")}))
    after = cache.get("n")
    assert before is not None and after is not None
    assert before.version(CLUSTER) != after.version(CLUSTER)


def test_absent_type_has_the_empty_version() -> None:
    cache = ResourceCache()
    cache.set_node_resources("n", {})
    node = cache.get("n")
    assert node is not None
    assert node.version(LISTENER) == TypeResources.build(LISTENER, ()).version
    assert dict(node.of(LISTENER).resources) == {}


def test_shared_any_is_serialised_once() -> None:
    cache = ResourceCache()
    shared = cluster("a")
    cache.set_node_resources("n1", resource_set(clusters={"a": shared}))
    cache.set_node_resources("n2", resource_set(clusters={"a": shared}))
    n1, n2 = cache.get("n1"), cache.get("n2")
    assert n1 is not None and n2 is not None
    # Memoised: the very same bytes object, not an equal re-serialisation.
    assert n1.of(CLUSTER).resources["a"].framed is n2.of(CLUSTER).resources["a"].framed


def test_watchers_get_only_changed_types_and_nothing_when_unchanged() -> None:
    cache = ResourceCache()
    seen: list[frozenset[str]] = []
    unwatch = cache.watch("n", seen.append)
    cache.set_node_resources(
        "n", resource_set(clusters={"a": cluster("a")}, routes={"r": direct_response_route("r", "x")})
    )
    cache.set_node_resources(
        "n", resource_set(clusters={"a": cluster("a")}, routes={"r": direct_response_route("r", "y")})
    )
    cache.set_node_resources(
        "n", resource_set(clusters={"a": cluster("a")}, routes={"r": direct_response_route("r", "y")})
    )
    cache.set_node_resources("other", resource_set(clusters={"a": cluster("a")}))
    assert seen == [frozenset({CLUSTER, ROUTE}), frozenset({ROUTE})]
    unwatch()
    cache.set_node_resources("n", {})
    assert len(seen) == 2


def test_all_watchers_of_a_node_are_woken() -> None:
    cache = ResourceCache()
    seen: list[str] = []
    cache.watch("n", lambda changed: seen.append("first"))
    cache.watch("n", lambda changed: seen.append("second"))
    cache.set_node_resources("n", resource_set(clusters={"a": cluster("a")}))
    assert seen == ["first", "second"]


def test_resource_of_the_wrong_type_is_refused() -> None:
    cache = ResourceCache()
    with pytest.raises(ValueError, match=r"not type\.googleapis\.com/envoy\.config\.listener"):
        cache.set_node_resources("n", {LISTENER: {"a": cluster("a")}})


def test_drop_node() -> None:
    cache = ResourceCache()
    cache.set_node_resources("n", {CLUSTER: {}})
    cache.drop_node("n")
    assert cache.get("n") is None
    assert cache.node_ids() == []


def test_memo_is_pruned_to_live_objects() -> None:
    cache = ResourceCache()
    cache._MEMO_FLOOR = cache._prune_at = 10  # exercise pruning without thousands of resources
    sizes = []
    for i in range(30):
        cache.set_node_resources("n", {CLUSTER: {"a": Any(type_url=CLUSTER, value=bytes([i]))}})
        sizes.append(len(cache._memo))
    assert max(sizes) == 10
    assert 1 in sizes
