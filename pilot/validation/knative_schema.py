"""Allowed fields of the Knative Serving kinds meshpilot reads (`serving.knative.dev/v1` Service,
Configuration, Route, Revision), written by hand in the notation of scripts/gen_field_schemas.py.

Only what meshpilot acts on is strict (the traffic block, the template's name and container ports): a
misspelled `precent` would otherwise silently leave a target at 0 %. The revision's pod spec follows
Kubernetes' PodSpec subset that Knative allows; its unknown fields are reported as warnings, like the
Kubernetes kinds in schema_local.py. Field lists: https://knative.dev/docs/serving/reference/serving-api/
"""

from __future__ import annotations

from typing import Any

GROUP = "serving.knative.dev"

TRAFFIC_TARGET: Any = {"fields": {
    "tag": "string", "revisionName": "string", "configurationName": "string", "latestRevision": "boolean",
    "percent": "integer", "url": "string",
}}
CONTAINER_PORT: Any = {"fields": {"containerPort": "integer", "name": "string", "protocol": "string"}}
CONTAINER: Any = {"unknown": "warning", "fields": {
    **dict.fromkeys(("args", "command", "env", "envFrom", "resources", "readinessProbe", "livenessProbe",
                     "startupProbe", "securityContext", "volumeMounts", "workingDir", "imagePullPolicy",
                     "terminationMessagePath", "terminationMessagePolicy"), "any"),
    "name": "string", "image": "string", "ports": {"items": CONTAINER_PORT},
}}
REVISION_SPEC: Any = {"unknown": "warning", "fields": {
    **dict.fromkeys(("volumes", "imagePullSecrets", "enableServiceLinks", "nodeSelector", "tolerations",
                     "affinity", "securityContext", "runtimeClassName", "priorityClassName", "schedulerName",
                     "topologySpreadConstraints", "dnsPolicy", "dnsConfig", "hostAliases", "initContainers",
                     "automountServiceAccountToken", "hostIPC", "hostPID", "hostNetwork",
                     "shareProcessNamespace"), "any"),
    "containers": {"items": CONTAINER}, "containerConcurrency": "integer", "timeoutSeconds": "integer",
    "responseStartTimeoutSeconds": "integer", "idleTimeoutSeconds": "integer", "serviceAccountName": "string",
}}
TEMPLATE: Any = {"fields": {
    "metadata": {"fields": {"name": "string", "generateName": "string", "labels": {"values": "any"},
                            "annotations": {"values": "string"}}},
    "spec": REVISION_SPEC,
}}
STATUS: Any = {"open": True}  # written by Knative (or by meshpilot); never read for routing

ROOTS: dict[tuple[str, str, str], Any] = {
    (GROUP, "v1", "KnativeService"): {"fields": {
        "spec": {"fields": {"template": TEMPLATE, "traffic": {"items": TRAFFIC_TARGET}}}, "status": STATUS}},
    (GROUP, "v1", "KnativeConfiguration"): {"fields": {"spec": {"fields": {"template": TEMPLATE}},
                                                       "status": STATUS}},
    (GROUP, "v1", "KnativeRoute"): {"fields": {"spec": {"fields": {"traffic": {"items": TRAFFIC_TARGET}}},
                                               "status": STATUS}},
    (GROUP, "v1", "KnativeRevision"): {"fields": {"spec": REVISION_SPEC, "status": STATUS}},
}
