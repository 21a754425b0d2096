"""Knative Serving (`serving.knative.dev/v1`) Service, Configuration, Route and Revision, checked with
Knative's own webhook rules and messages (pkg/apis/serving/v1 route_validation.go,
revision_validation.go, pkg/apis/serving metadata_validation.go), after Knative's defaulting (a missing
`percent` is 0, `latestRevision` defaults to `revisionName == ""`, a Service without traffic sends 100 %
to its latest revision). Paths start at the document root: `spec.traffic[1].percent`.
https://knative.dev/docs/serving/reference/serving-api/
"""

from __future__ import annotations

import json
import re

from pilot.model.durations import parse_duration
from pilot.validation.node import Node, Report

ROLLOUT_ANNOTATION = "serving.knative.dev/rollout-duration"
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes' IsQualifiedName: an optional DNS-1123 subdomain prefix and a name of at most 63 characters.
_QUALIFIED = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _q(value: str) -> str:
    """Go's %q, as Knative's messages quote names."""
    return json.dumps(value)


def dns1035_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1035_LABEL.match(value):
        return ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character")
    return None


def validate_knative_service(report: Report, body: Node) -> None:
    name = report.resource.name
    _check_rollout_annotation(body["metadata"])
    _check_template(body["spec"]["template"], name, required=True)
    traffic = body["spec"]["traffic"]
    if traffic.items():  # a Service without traffic is defaulted to 100 % on its latest revision
        _check_traffic(traffic, service=name)


def validate_knative_configuration(report: Report, body: Node) -> None:
    _check_template(body["spec"]["template"], report.resource.name, required=True)


def validate_knative_route(report: Report, body: Node) -> None:
    _check_rollout_annotation(body["metadata"])
    _check_traffic(body["spec"]["traffic"], service="")


def validate_knative_revision(report: Report, body: Node) -> None:
    problem = dns1035_problem(report.resource.name)
    if problem:
        body["metadata"]["name"].error(f"not a DNS 1035 label: {problem}")
    _check_revision_spec(body["spec"], required=True)


def _check_rollout_annotation(meta: Node) -> None:
    node = meta["annotations"][ROLLOUT_ANNOTATION]
    text = node.text()
    if not text:
        return
    try:
        seconds = parse_duration(text)
    except ValueError:
        node.error(f"invalid value: {text}")
        return
    if abs(seconds - round(seconds)) > 1e-9:
        node.error(f"rollout-duration={text} is not at second precision")


def _check_template(template: Node, parent: str, *, required: bool) -> None:
    if not template.present:
        if required:
            template.error("missing field(s): template")
        return
    name = template["metadata"]["name"].text()
    if name:
        problem = dns1035_problem(name)
        prefix = f"{parent}-"
        if problem:
            template["metadata"]["name"].error(f"invalid value: not a DNS 1035 label: {problem}")
        elif not name.startswith(prefix):
            template["metadata"]["name"].error(f"invalid value: {_q(name)} must have prefix {_q(prefix)}")
    _check_revision_spec(template["spec"], required=True)


def _check_revision_spec(spec: Node, *, required: bool) -> None:
    containers = spec["containers"].items()
    if not containers:
        if required:
            spec["containers"].error("missing field(s): containers")
        return
    ports = 0
    for container in containers:
        if not container["image"].text():
            container["image"].error("missing field(s): image")
        for port in container["ports"].items():
            ports += 1
            number = port["containerPort"].integer()
            if number is not None and not 0 < number < 65536:
                port["containerPort"].error(f"expected 1 <= {number} <= 65535")
    if ports > 1:
        spec["containers"].error("more than one container port is set")
    timeout = spec["timeoutSeconds"].integer()
    if timeout is not None and not 0 <= timeout <= 600:
        spec["timeoutSeconds"].error(f"expected 0 <= {timeout} <= 600")


def _check_traffic(traffic: Node, *, service: str) -> None:
    """validateTrafficList: each target, DNS-1035 unique tags, and percents that sum to 100.
    `service`: the owning Service's name (its Route takes no configurationName), "" for a Route."""
    total = 0
    tags: dict[str, int] = {}
    for index, target in enumerate(traffic.items()):
        _check_target(target, service=service)
        percent = target["percent"].integer()
        total += percent or 0
        tag = target["tag"].text()
        if not tag:
            continue
        problem = dns1035_problem(tag)
        if problem:
            target["tag"].error(f"invalid value: not a DNS 1035 label: [{problem}]")
        if tag in tags:
            target["tag"].error(f"Multiple definitions for {_q(tag)} (also at {traffic.path}[{tags[tag]}].tag)")
        else:
            tags[tag] = index
    if total != 100:
        traffic.error(f"Traffic targets sum to {total}, want 100")


def _check_target(target: Node, *, service: str) -> None:
    revision = target["revisionName"].text() or ""
    configuration = target["configurationName"].text() or ""
    latest = target["latestRevision"].flag()
    if latest is not None and (revision != "") == latest:
        target["latestRevision"].error(f"may not set revisionName {_q(revision)} when latestRevision is "
                                       f"{str(latest).lower()}")
    if service and configuration:
        target["configurationName"].error("must not set the field(s): configurationName")
    elif revision and configuration:
        target.error("expected exactly one, got both: revisionName, configurationName")
    elif revision:
        _check_qualified(target["revisionName"], revision)
        if service and not revision.startswith(f"{service}-"):
            # Knative's reconciler refuses a Service's route to another Service's revision; its names
            # always start with "{service}-", so anything else can never be resolved.
            target["revisionName"].error(f"revision {_q(revision)} is not a revision of Service {_q(service)} "
                                         f"(its revisions are named {service}-...)")
    elif configuration:
        _check_qualified(target["configurationName"], configuration)
    elif not service:
        target.error("expected exactly one, got neither: revisionName, configurationName")
    percent = target["percent"].integer()
    if percent is not None and not 0 <= percent <= 100:
        target["percent"].error(f"expected 0 <= {percent} <= 100")
    if target.has("url"):
        target["url"].error("must not set the field(s): url (it is set in status only)")


def _check_qualified(node: Node, value: str) -> None:
    name = value.rpartition("/")[2]
    if not _QUALIFIED.match(value) or len(name) > 63:
        node.error(f"invalid key name {_q(value)}: a qualified name must consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character")
