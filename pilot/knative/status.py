"""Knative-shaped `status` of Services, Routes and Configurations (pkg/apis/serving/v1 *_lifecycle.go):
URL, traffic with resolved revision names and percents, latest created/ready revisions, conditions.
What `pilot knative status` shows, and what kube mode writes to the objects' status subresource.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pilot.knative.derive import route_hosts, tag_host_name
from pilot.knative.traffic import Resolution, Split


@dataclass(frozen=True)
class ConfigState:
    latest_created: str = ""
    latest_ready: str = ""


@dataclass(frozen=True)
class RouteState:
    name: str
    namespace: str
    splits: tuple[Split, ...]  # what is programmed (the last good traffic, mid-rollout shares)
    resolution: Resolution  # what the spec resolves to now
    rolling: bool = False
    domain: str = "svc.cluster.local"


def condition(kind: str, ok: bool | None, reason: str = "", message: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "status": {True: "True", False: "False", None: "Unknown"}[ok]}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def url(host: str) -> str:
    return f"http://{host}"


def configuration_status(state: ConfigState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.latest_created:
        out["latestCreatedRevisionName"] = state.latest_created
    if state.latest_ready:
        out["latestReadyRevisionName"] = state.latest_ready
    if not state.latest_created:
        out["conditions"] = [condition("Ready", None, "RevisionMissing", "No revision has been created yet.")]
    elif state.latest_created == state.latest_ready:
        out["conditions"] = [condition("Ready", True)]
    else:
        out["conditions"] = [condition("Ready", None, "RevisionMissing",
                                       f'Revision "{state.latest_created}" has no ready pods yet.')]
    return out


def route_status(state: RouteState) -> dict[str, Any]:
    host = route_hosts(state.name, state.namespace, state.domain)[-1]
    out: dict[str, Any] = {"url": url(host), "address": {"url": url(host)},
                           "traffic": traffic_status(state)}
    res = state.resolution
    assigned = condition("AllTrafficAssigned", True) if res.ok else condition(
        "AllTrafficAssigned", False, res.reason, res.message)
    if state.rolling:
        ingress = condition("IngressReady", None, "RolloutInProgress",
                            "A gradual rollout of the latest revision(s) is in progress.")
    else:
        ingress = condition("IngressReady", bool(state.splits), "" if state.splits else "NoTraffic",
                            "" if state.splits else "No traffic has been programmed yet.")
    ready = condition("Ready", _all(assigned, ingress), *_first_problem(assigned, ingress))
    out["conditions"] = [assigned, ingress, ready]
    return out


def traffic_status(state: RouteState) -> list[dict[str, Any]]:
    out = []
    for s in state.splits:
        entry: dict[str, Any] = {}
        if s.tag:
            entry["tag"] = s.tag
        entry["revisionName"] = s.revision
        if s.latest and s.configuration:
            entry["configurationName"] = s.configuration
        entry["latestRevision"] = s.latest
        entry["percent"] = s.percent
        if s.tag:
            entry["url"] = url(route_hosts(tag_host_name(s.tag, state.name), state.namespace, state.domain)[-1])
        out.append(entry)
    return out


def service_status(config: ConfigState, route: RouteState, generation: int = 0) -> dict[str, Any]:
    cfg, rt = configuration_status(config), route_status(route)
    configs_ready = {**cfg["conditions"][0], "type": "ConfigurationsReady"}
    routes_ready = {**rt["conditions"][-1], "type": "RoutesReady"}
    out: dict[str, Any] = {k: v for k, v in cfg.items() if k != "conditions"}
    out.update({k: v for k, v in rt.items() if k != "conditions"})
    out["conditions"] = [configs_ready, routes_ready,
                         condition("Ready", _all(configs_ready, routes_ready),
                                   *_first_problem(configs_ready, routes_ready))]
    if generation:
        out["observedGeneration"] = generation
    return out


def _all(*conditions: dict[str, Any]) -> bool | None:
    states = [c["status"] for c in conditions]
    if "False" in states:
        return False
    return True if all(s == "True" for s in states) else None


def _first_problem(*conditions: dict[str, Any]) -> Sequence[str]:
    for c in conditions:
        if c["status"] != "True":
            return (c.get("reason", ""), c.get("message", ""))
    return ("", "")
