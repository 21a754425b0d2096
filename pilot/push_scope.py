"""Which proxies a config change touches, decided with the mesh graph.

Policies that attach to workloads through a selector (or to a whole namespace / the root namespace
without one) change only the config of the workloads they select: the graph's `applies` edges say which.
Everything else (services, routes, destination rules, peer authentication, which steers clients' auto-mTLS)
can reach any caller, so it touches every proxy. Old and new graphs are both consulted, so a policy whose
selector moved, or that was deleted, still reaches the workloads it used to select.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pilot.model.graph import affected_workloads, wl_node
from pilot.model.proxy import NodeId
from pilot.model.resource import ConfigKey
from pilot.model.snapshot import MeshSnapshot

SELECTOR_SCOPED_KINDS = frozenset({"Sidecar", "AuthorizationPolicy", "RequestAuthentication", "EnvoyFilter",
                                   "RateLimitPolicy"})


def touched_nodes(old: MeshSnapshot | None, new: MeshSnapshot, keys: Iterable[object],
                  nodes: Mapping[str, NodeId]) -> set[str] | None:
    """Node ids whose config may change, or None for "every proxy"."""
    changed = list(keys)
    if old is None or not changed or any(not isinstance(k, ConfigKey) or k.kind not in SELECTOR_SCOPED_KINDS
                                         for k in changed):
        return None
    config_keys = [k for k in changed if isinstance(k, ConfigKey)]
    workloads = affected_workloads(new.graph, config_keys) | affected_workloads(old.graph, config_keys)
    return {node_id for node_id, node in nodes.items()
            if wl_node(node.namespace, new.proxy_view(node).name) in workloads}
