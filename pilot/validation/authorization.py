"""AuthorizationPolicy (https://istio.io/latest/docs/reference/config/security/authorization-policy/).

meshpilot enforces ALLOW, DENY and AUDIT with Envoy's RBAC filters; CUSTOM (ext_authz) is refused
rather than silently ignored, since ignoring it would allow what the author meant to check.
"""

from __future__ import annotations

import re

from pilot.validation.authentication import check_policy_target
from pilot.validation.fields import check_enum, subnet_error
from pilot.validation.httppolicies import HTTP_METHODS
from pilot.validation.node import Node, Report

ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
_SOURCE_FIELDS = ("principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks",
                  "serviceAccounts", "trustDomains")
_OPERATION_FIELDS = ("ports", "methods", "paths", "hosts")
_IP_FIELDS = ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks")
# `when` keys: https://istio.io/latest/docs/reference/config/security/conditions/
_PLAIN_KEYS = frozenset({"source.ip", "remote.ip", "source.namespace", "source.principal",
                         "source.serviceAccount", "source.trustDomain", "request.auth.principal",
                         "request.auth.audiences", "request.auth.presenter", "destination.ip",
                         "destination.port", "connection.sni"})
_MAP_KEYS = ("request.headers", "request.auth.claims", "experimental.envoy.filters.")
_REPLACED_KEYS = {"destination.namespace":
                  "attribute destination.namespace is replaced by the metadata.namespace",
                  "destination.name": "deprecated attribute destination.name: only supported in v1alpha1",
                  "destination.user": "deprecated attribute destination.user: only supported in v1alpha1"}
_MAP_KEY = re.compile(r"^[^\[]+\[.+\]$")
_IP_KEYS = ("source.ip", "remote.ip", "destination.ip")


def validate_authorization_policy(report: Report, spec: Node) -> None:
    check_policy_target(spec)
    action = check_enum(spec["action"], ACTIONS) or "ALLOW"
    if action == "CUSTOM":
        spec["action"].error("CUSTOM action is not supported by meshpilot")
    elif spec.has("provider"):
        spec["provider"].error(f"`provider` must not be with non CUSTOM action, found {action}")
    if action == "DENY" and not spec["rules"].value:
        spec.error("DENY action without `rules` is meaningless as it will never be triggered, "
                   "add an empty rule `{}` if you want it be triggered for every request")
    for rule in spec["rules"].items():
        _check_rule(rule)


def _check_rule(rule: Node) -> None:
    if rule.value is None:
        rule.error("`rule` must not be nil")
        return
    if isinstance(rule["from"].value, list) and not rule["from"].value:
        rule["from"].error("`from` must not be empty")
    for source_item in rule["from"].items():
        source = source_item["source"]
        if not source.present:
            source.error("`from.source` must not be nil")
            continue
        _check_source(source)
    if isinstance(rule["to"].value, list) and not rule["to"].value:
        rule["to"].error("`to` must not be empty")
    for target in rule["to"].items():
        operation = target["operation"]
        if not operation.present:
            operation.error("`to.operation` must not be nil")
            continue
        _check_operation(operation)
    for condition in rule["when"].items():
        _check_condition(condition)


def _present(node: Node, fields: tuple[str, ...]) -> list[str]:
    both = [f for name in fields for f in (name, "not" + name[0].upper() + name[1:])]
    return node.keys_present(*both)


def _check_values(node: Node, field: str) -> None:
    for item, value in node[field].strings():
        if not value:
            item.error(f"empty value not allowed, found in {field}")


def _check_source(source: Node) -> None:
    present = _present(source, _SOURCE_FIELDS)
    if not present:
        source.error("`from.source` must not be empty")
    if set(present) & {"serviceAccounts", "notServiceAccounts"} and set(present) & {
            "principals", "notPrincipals", "namespaces", "notNamespaces"}:
        source.error("cannot set serviceAccounts with namespaces or principals")
    for field in present:
        _check_values(source, field)
    for field in _IP_FIELDS:
        for item, value in source[field].strings():
            if value and (problem := subnet_error(value)):
                item.error(f"bad IP address or CIDR range: {problem}")
    for field in ("serviceAccounts", "notServiceAccounts"):
        for item, value in source[field].strings():
            parts = value.split("/")
            if value and (len(parts) > 2 or "" in parts or "*" in value):
                item.error("expected format 'serviceAccount' or 'namespace/serviceAccount', "
                           f"found {value!r} in {field}")


def _check_operation(operation: Node) -> None:
    present = _present(operation, _OPERATION_FIELDS)
    if not present:
        operation.error("`to.operation` must not be empty")
    for field in present:
        _check_values(operation, field)
    for field in ("ports", "notPorts"):
        for item, port in operation[field].strings():
            if port and (not port.isdigit() or int(port) > 65535):
                item.error(f"bad port ({port}): must be a number in 0..65535")
    for field in ("methods", "notMethods"):
        for item, method in operation[field].strings():
            if method and method not in HTTP_METHODS:
                # Envoy compares :method case-sensitively, so "get" never matches a GET request.
                item.warning(f"{method!r} is not a standard HTTP method; methods match case-sensitively")
    for field in ("paths", "notPaths"):
        for item, path in operation[field].strings():
            if problem := _path_template_error(path):
                item.error(f"invalid or unsupported path {path}, found in {field}. {problem}")


def _path_template_error(path: str) -> str | None:
    """Istio path templates: `{*}` matches one segment, `{**}` the rest and must come last."""
    seen_any = False
    for segment in path.strip("/").split("/"):
        if seen_any and segment in ("{*}", "{**}"):
            return "{**} is not the last operator"
        if segment == "{**}":
            seen_any = True
        elif segment != "{*}" and ("{" in segment or "}" in segment):
            return "Contains '{' or '}' beyond a supported path template"
    return None


def _check_condition(condition: Node) -> None:
    key = condition["key"].text()
    if not key:
        condition["key"].error("`key` must not be empty")
        return
    if not condition.has("values") and not condition.has("notValues"):
        condition.error(f"at least one of `values` or `notValues` must be set for key {key}")
    if problem := _condition_key_error(key):
        condition["key"].error(problem)
        return
    for field in ("values", "notValues"):
        for item, value in condition[field].strings():
            if not value:
                item.error(f"empty value not allowed, found in {key}")
            elif key in _IP_KEYS and (problem := subnet_error(value)):
                item.error(f"invalid `{field[:-1]}` for `key` {key}: {problem}")
            elif key == "destination.port" and (not value.isdigit() or int(value) > 65535):
                item.error(f"invalid `{field[:-1]}` for `key` {key}: bad port ({value})")


def _condition_key_error(key: str) -> str | None:
    if key in _PLAIN_KEYS:
        return None
    if key in _REPLACED_KEYS:
        return _REPLACED_KEYS[key]
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key.startswith(_MAP_KEYS):
        return None if _MAP_KEY.match(key) else f"bad key ({key}): should have format a[b]"
    return f"unknown attribute: {key}"
