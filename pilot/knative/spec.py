"""The Knative Serving objects meshpilot reads, parsed and defaulted as Knative's webhook defaults them
(pkg/apis/serving/v1 *_defaults.go): a missing `percent` is 0, `latestRevision` is `revisionName == ""`,
and a Service without `traffic` sends 100 % to its latest revision. The resources were validated on
the way into the store (pilot/validation/knative.py), so parsing here trusts their shape.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pilot.model.durations import parse_duration
from pilot.model.resource import Resource

LABEL_SERVICE = "serving.knative.dev/service"
LABEL_CONFIGURATION = "serving.knative.dev/configuration"
LABEL_REVISION = "serving.knative.dev/revision"
LABEL_GENERATION = "serving.knative.dev/configurationGeneration"
ROLLOUT_ANNOTATION = "serving.knative.dev/rollout-duration"
# Knative's default user port when the container names none (the PORT env var it injects).
DEFAULT_CONTAINER_PORT = 8080

KIND_SERVICE = "KnativeService"
KIND_CONFIGURATION = "KnativeConfiguration"
KIND_ROUTE = "KnativeRoute"
KIND_REVISION = "KnativeRevision"
KNATIVE_KINDS = frozenset({KIND_SERVICE, KIND_CONFIGURATION, KIND_ROUTE, KIND_REVISION})


@dataclass(frozen=True)
class Target:
    """One traffic target. `configuration` is set for targets that follow a Configuration's latest ready
    revision (`latest`); `revision` for pinned ones."""

    percent: int
    tag: str = ""
    revision: str = ""
    configuration: str = ""
    latest: bool = False


@dataclass(frozen=True)
class Template:
    name: str  # the BYO revision name (template.metadata.name), "" to have one generated
    port: int  # the user container's port: where the revision's pods serve
    digest: str  # any change to the template makes a new revision


@dataclass(frozen=True)
class ConfigSpec:
    """A Configuration: stand-alone, or the one a Service makes under its own name (`service` set)."""

    namespace: str
    name: str
    template: Template
    service: str = ""


@dataclass(frozen=True)
class RouteSpec:
    """A Route: stand-alone, or the one a Service makes under its own name (`service` set)."""

    namespace: str
    name: str
    targets: tuple[Target, ...]
    rollout_seconds: int = 0
    service: str = ""


@dataclass(frozen=True)
class RevisionObject:
    """A Revision that exists as an object (Knative's controller made it, or the config has it)."""

    namespace: str
    name: str
    configuration: str
    port: int
    generation: int
    ready: bool  # status condition Ready=True


@dataclass(frozen=True)
class KnativeObjects:
    configurations: tuple[ConfigSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    revisions: tuple[RevisionObject, ...] = ()


def read_objects(resources: Iterable[Resource]) -> KnativeObjects:
    """The Knative objects among `resources`. A Service's own Configuration and Route (Knative's
    controller writes them under the Service's name) are taken from the Service, not read twice."""
    configurations: list[ConfigSpec] = []
    routes: list[RouteSpec] = []
    revisions: list[RevisionObject] = []
    standalone: list[Resource] = []
    services: set[tuple[str, str]] = set()
    for res in resources:
        if res.kind == KIND_SERVICE:
            services.add((res.namespace, res.name))
            configurations.append(ConfigSpec(res.namespace, res.name, template_of(res.spec), service=res.name))
            routes.append(route_of(res, service=res.name))
        elif res.kind in (KIND_CONFIGURATION, KIND_ROUTE):
            standalone.append(res)
        elif res.kind == KIND_REVISION:
            revisions.append(revision_of(res))
    for res in standalone:
        if (res.namespace, res.name) in services:
            continue
        if res.kind == KIND_CONFIGURATION:
            configurations.append(ConfigSpec(res.namespace, res.name, template_of(res.spec)))
        else:
            routes.append(route_of(res, service=""))
    return KnativeObjects(tuple(configurations), tuple(routes), tuple(revisions))


def template_of(spec: Mapping[str, Any]) -> Template:
    template = spec.get("template") or {}
    name = str((template.get("metadata") or {}).get("name") or "")
    text = json.dumps(template, sort_keys=True, default=str)
    return Template(name, container_port(template.get("spec") or {}),
                    hashlib.sha256(text.encode()).hexdigest()[:16])


def container_port(revision_spec: Mapping[str, Any]) -> int:
    for container in revision_spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("containerPort"):
                return int(port["containerPort"])
    return DEFAULT_CONTAINER_PORT


def route_of(res: Resource, service: str) -> RouteSpec:
    raw = list(res.spec.get("traffic") or [])
    if not raw and service:
        raw = [{"percent": 100, "latestRevision": True}]
    targets = []
    for t in raw:
        revision = str(t.get("revisionName") or "")
        latest = t.get("latestRevision")
        latest = revision == "" if latest is None else bool(latest)
        configuration = str(t.get("configurationName") or service) if not revision else ""
        targets.append(Target(percent=int(t.get("percent") or 0), tag=str(t.get("tag") or ""),
                              revision=revision, configuration=configuration, latest=latest))
    return RouteSpec(res.namespace, res.name, tuple(targets), rollout_seconds(res.annotations), service)


def rollout_seconds(annotations: Mapping[str, str]) -> int:
    text = annotations.get(ROLLOUT_ANNOTATION, "")
    if not text:
        return 0
    try:
        return max(0, round(parse_duration(text)))
    except ValueError:
        return 0


def revision_of(res: Resource) -> RevisionObject:
    conditions = (res.status or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and str(c.get("status")) == "True" for c in conditions
                if isinstance(c, Mapping))
    configuration = res.labels.get(LABEL_CONFIGURATION, "")
    generation = res.labels.get(LABEL_GENERATION, "")
    return RevisionObject(res.namespace, res.name, configuration, container_port(res.spec),
                          int(generation) if generation.isdigit() else 0, ready)


def pod_is_ready(pod: Resource) -> bool:
    """A pod that can take traffic: it has an IP, is not finished or being deleted, and its Ready
    condition (when it reports one) is not False."""
    status = pod.status or {}
    if not status.get("podIP") or status.get("phase") in ("Failed", "Succeeded"):
        return False
    if (pod.body.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return not any(isinstance(c, Mapping) and c.get("type") == "Ready" and str(c.get("status")) == "False"
                   for c in status.get("conditions") or [])
