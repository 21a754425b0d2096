"""CLUSTER patches: add, remove, merge into or replace generated clusters."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf.message import Message

from pilot.model.proxy import ProxyView
from pilot.translate.envoyfilter import matching as m
from pilot.translate.envoyfilter.listener_patches import PatchError
from pilot.translate.envoyfilter.lists import merge
from pilot.translate.envoyfilter.selection import Patch
from pilot.translate.envoyfilter.state import PatchState
from pilot.translate.pb import type_url

CLUSTER = type_url(cluster_pb2.Cluster)


def patch_clusters(state: PatchState, view: ProxyView, patch: Patch, value: Message | None) -> bool:
    spec = patch.match.get("cluster") or {}
    if patch.operation == "ADD":
        assert isinstance(value, cluster_pb2.Cluster)
        if not m.context_matches(patch.context, view, m.cluster_is_inbound(value.name)):
            return False
        if state.peek(CLUSTER, value.name) is not None:
            raise PatchError(f"cluster {value.name} already exists")
        state.put(CLUSTER, value.name, value)
        return True
    changed = False
    for name, cluster in list(state.items(CLUSTER)):
        assert isinstance(cluster, cluster_pb2.Cluster)
        if not (m.context_matches(patch.context, view, m.cluster_is_inbound(name))
                and m.cluster_matches(spec, cluster)):
            continue
        if patch.operation == "REMOVE":
            state.delete(CLUSTER, name)
        else:
            assert value is not None
            copy = cluster_pb2.Cluster()
            copy.CopyFrom(value if patch.operation == "REPLACE" else cluster)
            if patch.operation == "MERGE":
                merge(copy, value)
            copy.name = copy.name or name
            state.put(CLUSTER, name, copy)
        changed = True
    return changed
