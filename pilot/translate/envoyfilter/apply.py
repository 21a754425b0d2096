"""Apply the EnvoyFilters selecting a proxy to its generated resources (the last step of translation).

Each patch applies as a whole or not at all. A patch whose value does not parse (unknown `@type`,
unknown field), that can never apply, that fails Envoy's own rules once applied, or that matches nothing
in this proxy's config is left out and reported as a Finding naming the file, the EnvoyFilter and the
patch index; the rest of the config still goes out, so Envoy never sees (and never NACKs) a bad patch.
"""

from __future__ import annotations

from collections.abc import Callable

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from google.protobuf.message import Message

from pilot.model.findings import Finding, Severity
from pilot.model.proxy import ProxyView
from pilot.model.resource import Resource
from pilot.model.snapshot import MeshSnapshot
from pilot.translate.envoyfilter.cluster_patches import patch_clusters
from pilot.translate.envoyfilter.listener_patches import PatchError, patch_listeners
from pilot.translate.envoyfilter.route_patches import patch_routes
from pilot.translate.envoyfilter.selection import PHASES, Patch, patches_for, patches_of, static_problem
from pilot.translate.envoyfilter.state import PatchState, Resources
from pilot.translate.envoyfilter.typed import PatchValueError, to_message

VALUE_TYPES: dict[str, type[Message]] = {
    "LISTENER": listener_pb2.Listener,
    "FILTER_CHAIN": listener_components_pb2.FilterChain,
    "NETWORK_FILTER": listener_components_pb2.Filter,
    "HTTP_FILTER": hcm.HttpFilter,
    "ROUTE_CONFIGURATION": route_pb2.RouteConfiguration,
    "VIRTUAL_HOST": route_components_pb2.VirtualHost,
    "HTTP_ROUTE": route_components_pb2.Route,
    "CLUSTER": cluster_pb2.Cluster,
}
Applier = Callable[[PatchState, ProxyView, Patch, Message | None], bool]
APPLIERS: dict[str, Applier] = {
    "CLUSTER": patch_clusters,
    "LISTENER": patch_listeners, "FILTER_CHAIN": patch_listeners,
    "NETWORK_FILTER": patch_listeners, "HTTP_FILTER": patch_listeners,
    "ROUTE_CONFIGURATION": patch_routes, "VIRTUAL_HOST": patch_routes, "HTTP_ROUTE": patch_routes,
}
CODE_INVALID = "MP5001"  # the patch can never apply or does not parse
CODE_REJECTED = "MP5002"  # applied, the result would be rejected by Envoy
CODE_NO_MATCH = "MP5003"  # matched nothing in this proxy's config


def apply_envoy_filters(snapshot: MeshSnapshot, view: ProxyView,
                        resources: Resources) -> tuple[Resources, list[Finding]]:
    patches = patches_for(snapshot, view)
    if not patches:
        return resources, []
    state = PatchState(resources)
    findings: list[Finding] = []
    for phase in PHASES:
        for patch in (p for p in patches if p.apply_to == phase):
            finding = _apply_one(state, view, patch)
            if finding is not None:
                findings.append(finding)
    findings.extend(p.finding(problem, code=CODE_INVALID) for p in patches
                    if p.apply_to not in PHASES and (problem := static_problem(p)))
    return state.packed(), findings


def patch_value_findings(ef: Resource) -> list[Finding]:
    """What can be known about an EnvoyFilter without a proxy: patches that can never apply and values
    that do not parse into their Envoy type (for `pilot validate`; translation reports the same)."""
    out = []
    for patch in patches_of(ef):
        problem = static_problem(patch)
        if not problem and patch.value is not None and patch.apply_to in VALUE_TYPES:
            try:
                to_message(patch.value, VALUE_TYPES[patch.apply_to])
            except PatchValueError as exc:
                problem = f"patch.value: {exc}"
        if problem:
            out.append(patch.finding(problem, code=CODE_INVALID))
    return out


def _apply_one(state: PatchState, view: ProxyView, patch: Patch) -> Finding | None:
    problem = static_problem(patch)
    if problem:
        return patch.finding(problem, code=CODE_INVALID)
    try:
        value = to_message(patch.value, VALUE_TYPES[patch.apply_to]) if patch.value is not None else None
    except PatchValueError as exc:
        return patch.finding(f"patch.value: {exc}", code=CODE_INVALID)
    state.begin()
    try:
        applied = APPLIERS[patch.apply_to](state, view, patch, value)
    except PatchError as exc:
        state.rollback()
        return patch.finding(str(exc), code=CODE_REJECTED)
    problems = state.problems()
    if problems:
        state.rollback()
        return patch.finding("left out, Envoy would reject the result: " + "; ".join(problems[:3]),
                             code=CODE_REJECTED)
    state.commit()
    if not applied:
        return patch.finding(f"{patch.apply_to} {patch.operation} matched nothing in {view.namespace}/{view.name}",
                             code=CODE_NO_MATCH, severity=Severity.WARNING)
    return None
