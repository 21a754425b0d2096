"""Per-node resource sets with content-hash versions, and the wake-ups that trigger pushes.

The mesh glue computes each node's resources and calls `set_node_resources`; streams of that node are
woken with the set of type URLs whose version changed. Versions are content hashes (ARCHITECTURE.md
rule 3): an unchanged resource keeps its version, so it is never re-sent, and two replicas serving the
same config report the same versions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from google.protobuf.any_pb2 import Any

from pilot.xds.wire import RESOURCE_FIELD, length_delimited, text_field, varint

# DeltaDiscoveryResponse.resources
DELTA_RESOURCES_FIELD = 2

log = logging.getLogger(__name__)

Watcher = Callable[[frozenset[str]], None]


def content_hash(data: bytes) -> str:
    """Short stable hash used as a version string."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedResource:
    """One resource as served: its Any, its version, and the Any already framed as field 2 on the
    wire (serialised once, spliced into every response that carries it)."""

    name: str
    any: Any
    framed: bytes
    version: str
    # `name\0version\n`: what the type's version hashes, encoded once
    digest_line: bytes = b""
    # The delta Resource message around `framed` (version = 1, resource = 2, name = 3), as the bytes
    # before and after it: pushing to 2000 delta streams then only joins, never re-encodes.
    delta_head: bytes = b""
    delta_tail: bytes = b""

    @classmethod
    def of(cls, name: str, obj: Any, data: bytes) -> CachedResource:
        version = content_hash(data)
        framed = length_delimited(RESOURCE_FIELD, data)
        version_field, name_field = text_field(1, version), text_field(3, name)
        body_len = len(version_field) + len(framed) + len(name_field)
        head = varint(DELTA_RESOURCES_FIELD << 3 | 2) + varint(body_len) + version_field
        return cls(name, obj, framed, version, f"{name}\0{version}\n".encode(), head, name_field)


@dataclass(frozen=True, slots=True)
class TypeResources:
    """All resources of one type for one node, and the type's version (hash over names + versions)."""

    type_url: str
    version: str
    resources: Mapping[str, CachedResource]

    @classmethod
    def build(cls, type_url: str, resources: Iterable[CachedResource]) -> TypeResources:
        by_name = {r.name: r for r in sorted(resources, key=lambda r: r.name)}
        digest = hashlib.blake2b(b"".join(r.digest_line or f"{r.name}\0{r.version}\n".encode()
                                          for r in by_name.values()), digest_size=8)
        return cls(type_url, digest.hexdigest(), MappingProxyType(by_name))


@dataclass(frozen=True, slots=True)
class NodeResources:
    """Immutable resource set of one node: type URL -> TypeResources."""

    node_id: str
    types: Mapping[str, TypeResources] = field(default_factory=dict)

    def of(self, type_url: str) -> TypeResources:
        found = self.types.get(type_url)
        return found if found is not None else TypeResources.build(type_url, ())

    def version(self, type_url: str) -> str:
        return self.of(type_url).version


class _VersionMemo:
    """The CachedResource (serialised bytes + hash) per distinct Any object, and the TypeResources per
    distinct resource map.

    Pushes to many proxies share Any objects (and whole maps, like a scope's endpoints), so each is
    serialised, hashed and sorted once. Keyed by id(); an entry keeps its object alive, so an id cannot
    be reused while its entry exists. Maps handed to the cache must not be changed afterwards.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, CachedResource] = {}
        self._maps: dict[int, tuple[Mapping[str, Any], TypeResources]] = {}

    def __len__(self) -> int:
        return len(self._by_id) + len(self._maps)

    def resource(self, name: str, obj: Any) -> CachedResource:
        hit = self._by_id.get(id(obj))
        if hit is not None and hit.any is obj and hit.name == name:
            return hit
        cached = CachedResource.of(name, obj, obj.SerializeToString(deterministic=True))
        if hit is None:
            self._by_id[id(obj)] = cached
        return cached

    def type_resources(self, type_url: str, named: Mapping[str, Any]) -> TypeResources:
        hit = self._maps.get(id(named))
        if hit is not None and hit[0] is named and hit[1].type_url == type_url:
            return hit[1]
        cached = []
        for name, obj in named.items():
            if obj.type_url != type_url:
                # Envoy rejects a response whose resources are of another type; catch it here.
                raise ValueError(f"resource {name!r} is {obj.type_url}, not {type_url}")
            cached.append(self.resource(name, obj))
        built = TypeResources.build(type_url, cached)
        if len(named) >= 16:  # only big maps are worth remembering (shared scope-wide maps are)
            self._maps[id(named)] = (named, built)
        return built

    def retain(self, live: Iterable[Any], live_maps: Iterable[TypeResources]) -> None:
        keep = {id(o) for o in live}
        self._by_id = {k: v for k, v in self._by_id.items() if k in keep}
        maps = {id(t) for t in live_maps}
        self._maps = {k: v for k, v in self._maps.items() if id(v[1]) in maps}


class ResourceCache:
    """Per node id: type_url -> {name: Any}. Versions are content hashes.

    Call it from the event loop thread that runs the XdsServer (watchers are plain callbacks).
    """

    _MEMO_FLOOR = 4096  # memo entries kept before the first prune

    def __init__(self) -> None:
        self._nodes: dict[str, NodeResources] = {}
        self._watchers: dict[str, list[Watcher]] = {}
        self._memo = _VersionMemo()
        self._prune_at = self._MEMO_FLOOR

    def set_node_resources(self, node_id: str, resources: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the node's full resource set and wake its streams for the types that changed."""
        types = {type_url: self._memo.type_resources(type_url, named) for type_url, named in resources.items()}
        old = self._nodes.get(node_id)
        new = NodeResources(node_id, MappingProxyType(types))
        self._nodes[node_id] = new
        self._maybe_prune_memo()
        changed = _changed_types(old, new)
        if changed:
            self._notify(node_id, changed)

    def get(self, node_id: str) -> NodeResources | None:
        return self._nodes.get(node_id)

    def drop_node(self, node_id: str) -> None:
        """Forget a node's resources. Open streams are not told: sending empty state would delete
        the proxy's config, and a node is dropped only after it has been gone a while."""
        self._nodes.pop(node_id, None)

    def node_ids(self) -> list[str]:
        return sorted(self._nodes)

    def watch(self, node_id: str, watcher: Watcher) -> Callable[[], None]:
        """Call `watcher(changed_type_urls)` after every update of the node; returns the unwatch."""
        self._watchers.setdefault(node_id, []).append(watcher)

        def unwatch() -> None:
            watchers = self._watchers.get(node_id, [])
            if watcher in watchers:
                watchers.remove(watcher)
            if not watchers:
                self._watchers.pop(node_id, None)

        return unwatch

    def _notify(self, node_id: str, changed: frozenset[str]) -> None:
        for watcher in list(self._watchers.get(node_id, ())):
            try:
                watcher(changed)
            except Exception:  # one broken stream must not stop the others from being woken
                log.exception("xDS watcher of node %s failed", node_id)

    def _maybe_prune_memo(self) -> None:
        # Amortised: a full walk only when the memo has doubled since the last one.
        if len(self._memo) <= self._prune_at:
            return
        self._memo.retain(
            (r.any for n in self._nodes.values() for t in n.types.values() for r in t.resources.values()),
            (t for n in self._nodes.values() for t in n.types.values()),
        )
        self._prune_at = max(self._MEMO_FLOOR, 2 * len(self._memo))


def _changed_types(old: NodeResources | None, new: NodeResources) -> frozenset[str]:
    urls = set(new.types) | (set(old.types) if old else set())
    return frozenset(u for u in urls if old is None or old.version(u) != new.version(u))
