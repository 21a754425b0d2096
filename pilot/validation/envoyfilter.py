"""EnvoyFilter: only the shape of each patch for now (enums, value present where the operation
needs one); deeper checks against Envoy's types come with EnvoyFilter support
(https://istio.io/latest/docs/reference/config/networking/envoy-filter/)."""

from __future__ import annotations

from pilot.validation.fields import check_enum, check_port, check_workload_labels
from pilot.validation.node import Node, Report

APPLY_TO = ("LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER", "ROUTE_CONFIGURATION",
            "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER", "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER")
CONTEXTS = ("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", "WAYPOINT")
OPERATIONS = ("MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE",
              "MERGE_AND_REPLACE_LIST")
FILTER_CLASSES = ("UNSPECIFIED", "AUTHN", "AUTHZ", "STATS")
_NEEDS_VALUE = frozenset(OPERATIONS) - {"REMOVE"}
_INT32 = (-(2**31), 2**31 - 1)


def validate_envoy_filter(report: Report, spec: Node) -> None:
    if spec.has("workloadSelector") and spec.has("targetRefs"):
        spec.error("only one of targetRefs or workloadSelector can be set")
    elif spec.has("targetRefs"):
        spec["targetRefs"].warning("targetRefs is not supported by meshpilot: this EnvoyFilter applies to no proxy")
    check_workload_labels(spec["workloadSelector"]["labels"])
    priority = spec["priority"].integer()
    if priority is not None and not _INT32[0] <= priority <= _INT32[1]:
        spec["priority"].error(f"priority {priority} must be a 32-bit integer")
    for patch in spec["configPatches"].items():
        _check_patch(patch)


def _check_patch(patch: Node) -> None:
    if not patch.has("applyTo"):
        patch["applyTo"].error("Envoy filter: missing applyTo")
    check_enum(patch["applyTo"], APPLY_TO)
    match, body = patch["match"], patch["patch"]
    check_enum(match["context"], CONTEXTS)
    objects = match.keys_present("listener", "routeConfiguration", "cluster", "waypoint")
    if len(objects) > 1:
        match.error("only one of listener, routeConfiguration, cluster or waypoint may be set, "
                    f"found {', '.join(objects)}")
    if match["cluster"]["portNumber"].integer():
        check_port(match["cluster"]["portNumber"])
    if match["listener"]["portNumber"].integer():
        check_port(match["listener"]["portNumber"])
    if not body.present:
        body.error("Envoy filter: missing patch")
        return
    operation = check_enum(body["operation"], OPERATIONS)
    if not body.has("operation"):
        body["operation"].error("Envoy filter: missing patch operation")
    if operation in _NEEDS_VALUE and not body.has("value"):
        body["value"].error(f"Envoy filter: missing patch value for non-remove operation {operation}")
    if body.has("value") and not isinstance(body["value"].value, dict):
        body["value"].error("patch value must be an object")
    check_enum(body["filterClass"], FILTER_CLASSES)
    if body.has("filterClass") and patch["applyTo"].value != "HTTP_FILTER":
        body["filterClass"].error("Envoy filter: filterClass is only supported for HTTP_FILTER")
