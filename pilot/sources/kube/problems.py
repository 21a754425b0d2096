"""Turn API errors into messages an operator can act on (which permission is missing, which CRD)."""

from __future__ import annotations

import json

from kubernetes.client import ApiException

from pilot.model.kinds import KindInfo


def server_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or "")
    return str(body.get("message") or exc.reason or "") if isinstance(body, dict) else str(exc.reason)


def forbidden(info: KindInfo, verb: str, namespace: str, exc: ApiException) -> str:
    """Name the missing RBAC permission: verb, resource, API group and namespace."""
    scope = f'in namespace "{namespace}"' if namespace else "in all namespaces (cluster scope)"
    kind_of_role = "Role" if namespace else "ClusterRole"
    return (f"RBAC denies {verb} on {info.kind}: missing permission verb={verb!r} resource={info.plural!r} "
            f"apiGroup={info.group!r} {scope}; grant it with a {kind_of_role} rule "
            f'{{apiGroups: ["{info.group}"], resources: ["{info.plural}"], verbs: ["get", "list", "watch"]}}'
            f" (server: {server_message(exc)})")


def unauthorized(exc: ApiException) -> str:
    return ("the API server refused meshpilot's credentials (401 Unauthorized): check the kubeconfig "
            f"user or the pod's service account token (server: {server_message(exc)})")


def missing_crd(info: KindInfo) -> str:
    versions = ", ".join(f"{info.group}/{v}" for v in info.versions)
    return (f"{info.kind} is not served by the API server (none of {versions}): is its CRD installed? "
            "meshpilot treats it as empty and keeps checking")
